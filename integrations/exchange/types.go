// Package exchange is the small, exchange-neutral surface the containment
// actions use: key management through a management credential, and order
// cancellation / key verification through a bot's own credential.
//
// This package deliberately does not import ccxt (one enormous package):
// each exchange lives in a subpackage (binance, okx, bybit) built on ccxt and
// registers itself with Register, so only binaries that need an exchange pay
// for compiling ccxt.
package exchange

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// Permissions a key holds. Read is implied by every exchange; it is kept so
// a read-only key is explicit (all other fields false).
type Permissions struct {
	Read     bool `json:"read"`
	Trade    bool `json:"trade"`    // spot (and margin where the exchange ties them) trading
	Futures  bool `json:"futures"`  // derivatives trading
	Withdraw bool `json:"withdraw"` // withdrawals or universal transfer out
}

// String is a compact form for summaries: "read,trade".
func (p Permissions) String() string {
	var s []string
	if p.Read {
		s = append(s, "read")
	}
	if p.Trade {
		s = append(s, "trade")
	}
	if p.Futures {
		s = append(s, "futures")
	}
	if p.Withdraw {
		s = append(s, "withdraw")
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

// Key describes an API key as the exchange reports it. It never carries the
// secret.
type Key struct {
	ID          string      `json:"id"` // the API key string (public half)
	Label       string      `json:"label,omitempty"`
	SubAccount  string      `json:"sub_account,omitempty"` // email / name / uid, as the exchange names it
	Permissions Permissions `json:"permissions"`
	// IPWhitelist empty means the key works from any IP.
	IPWhitelist []string  `json:"ip_whitelist,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	// LastUsedAt is zero when the exchange does not report it.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Credential is an API key with its secret. It redacts itself in every
// printing path (fmt, %#v, JSON, slog) so it cannot leak through a log line
// or a workflow payload by accident.
type Credential struct {
	APIKey     string
	Secret     string
	Passphrase string // OKX only
}

const redacted = "[REDACTED]"

func (c Credential) String() string {
	return fmt.Sprintf("Credential{APIKey:%s Secret:%s}", c.APIKey, redacted)
}
func (c Credential) GoString() string { return c.String() }

// MarshalJSON emits only the public key id.
func (c Credential) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"api_key": c.APIKey, "secret": redacted})
}

// LogValue keeps the secret out of slog output.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("api_key", c.APIKey), slog.String("secret", redacted))
}

// Empty tells whether no key is set.
func (c Credential) Empty() bool { return c.APIKey == "" }

// CreateKeyRequest asks for a new key on a sub-account.
type CreateKeyRequest struct {
	SubAccount  string      `json:"sub_account"`
	Label       string      `json:"label"`
	Permissions Permissions `json:"permissions"`
	// IPWhitelist is required by the actions (a bot key without one is the
	// very thing we are cleaning up); adapters pass it through as given.
	IPWhitelist []string `json:"ip_whitelist"`
	// Passphrase is the API passphrase for exchanges whose keys have one
	// (OKX). Adapters generate one when empty and return it in NewKey.
	Passphrase string `json:"-"`
}

// NewKey is a freshly created key with its secret. Like Credential it
// redacts itself; callers move the secret into the secret store at once.
type NewKey struct {
	Key
	Secret     string
	Passphrase string
}

func (k NewKey) String() string {
	return fmt.Sprintf("NewKey{ID:%s Label:%s Secret:%s}", k.ID, k.Label, redacted)
}
func (k NewKey) GoString() string { return k.String() }

// MarshalJSON emits the public key description only.
func (k NewKey) MarshalJSON() ([]byte, error) { return json.Marshal(k.Key) }

// LogValue keeps the secret out of slog output.
func (k NewKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("label", k.Label), slog.String("secret", redacted))
}

// Credential returns the key as a credential for the bot.
func (k NewKey) Credential() Credential {
	return Credential{APIKey: k.ID, Secret: k.Secret, Passphrase: k.Passphrase}
}

// CancelResult reports what CancelAllOrders did.
type CancelResult struct {
	// Cancelled holds the exchange's ids of the orders cancelled.
	Cancelled []string `json:"cancelled"`
	// Symbols are the unified symbols that had open orders.
	Symbols []string `json:"symbols,omitempty"`
}

// Verification is what VerifyKey found out about a key, using the key itself.
type Verification struct {
	// Authenticated is true when the exchange accepted the key from the
	// source address used.
	Authenticated bool `json:"authenticated"`
	// Rejection is the error kind when not authenticated (authentication for
	// an unknown/revoked key, permission for an IP outside the whitelist on
	// exchanges that say so).
	Rejection Kind `json:"rejection,omitempty"`
	// Message is the exchange's error text when rejected (never a secret).
	Message string `json:"message,omitempty"`
	// The key's own view of its rights (only when authenticated).
	Permissions Permissions `json:"permissions"`
	IPWhitelist []string    `json:"ip_whitelist,omitempty"`
	// FromIP is the local address the check was made from ("" = default).
	FromIP string `json:"from_ip,omitempty"`
}

// Capabilities tell the actions what an exchange adapter can do, so a
// runbook falls back to the manual path instead of pretending.
type Capabilities struct {
	// ManageSubAccountKeys: create/delete/modify sub-account keys with the
	// management credential.
	ManageSubAccountKeys bool `json:"manage_sub_account_keys"`
	// SelfRevoke: a key can delete itself (Bybit delete-api).
	SelfRevoke bool `json:"self_revoke"`
	// MaxWhitelist is the most IPs one key may list (0 = unknown).
	MaxWhitelist int `json:"max_whitelist,omitempty"`
}

// NormalizeIPs returns the whitelist sorted and de-duplicated, so "set" and
// comparisons are order-insensitive.
func NormalizeIPs(ips []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, ip := range ips {
		ip = strings.TrimSpace(ip)
		if ip == "" || seen[ip] {
			continue
		}
		seen[ip] = true
		out = append(out, ip)
	}
	sort.Strings(out)
	return out
}

// SameIPs tells whether two whitelists hold the same addresses.
func SameIPs(a, b []string) bool {
	a, b = NormalizeIPs(a), NormalizeIPs(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// WhitelistChange is what SetIPWhitelist did.
type WhitelistChange struct {
	// Now is the whitelist as the exchange reported it in answer to the
	// write (or to the read, when nothing needed writing).
	Now []string `json:"now"`
	// PreviousKnown tells whether the adapter read the list before
	// writing. Adapters that write first (the lockout is the first thing
	// the exchange sees) only know what the write's answer reveals.
	PreviousKnown bool `json:"previous_known"`
	// Previous is the list before the call when PreviousKnown; otherwise
	// the addresses known to have been on it that are not wanted (Binance
	// reports them: its write adds, so the answer shows the old extras).
	Previous []string `json:"previous"`
	// Changed is false only when the adapter knows the list already was
	// ips (and then it wrote nothing).
	Changed bool `json:"changed"`
	// Calls is how many requests the change took.
	Calls int `json:"calls"`
}
