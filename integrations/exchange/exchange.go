package exchange

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Exchange is one exchange account as the containment actions see it.
//
// Key-management methods (ListKeys … SetIPWhitelist) act through the
// management credential the adapter was opened with; it never reaches a bot.
// CancelAllOrders and VerifyKey act through the credential passed in — the
// bot's own key — because open orders live on the bot's (sub-)account and a
// verification must prove what that very key can do.
//
// Every method returns *Error (possibly wrapped) on failure, so callers can
// classify with KindOf. An absent key is KindNotFound.
type Exchange interface {
	// Name is the exchange id: "binance", "okx", "bybit".
	Name() string
	Capabilities() Capabilities

	// ListKeys lists the API keys of a sub-account.
	ListKeys(ctx context.Context, subAccount string) ([]Key, error)
	// KeyInfo describes one key; KindNotFound when it does not exist.
	KeyInfo(ctx context.Context, subAccount, keyID string) (Key, error)
	// CreateKey creates a key with exactly the given permissions and
	// whitelist. It is not idempotent by itself: callers look for an existing
	// key with the same label first (see FindByLabel).
	CreateKey(ctx context.Context, req CreateKeyRequest) (NewKey, error)
	// RevokeKey deletes a key. An absent key returns KindNotFound (callers
	// treat that as success).
	RevokeKey(ctx context.Context, subAccount, keyID string) error
	// SetPermissions replaces the key's permissions.
	SetPermissions(ctx context.Context, subAccount, keyID string, p Permissions) error
	// SetIPWhitelist replaces the key's whitelist (a set, not an append)
	// with as few round trips as the exchange allows — it is the lockout
	// of a leaked key, so adapters write first where the exchange's API
	// lets them — and checks the exchange's answer to the write: a list
	// other than ips is an error. An empty list is refused with
	// KindInvalid: removing a bot key's whitelist is never what
	// containment wants. An absent key is KindNotFound.
	SetIPWhitelist(ctx context.Context, subAccount, keyID string, ips []string) (WhitelistChange, error)

	// CancelAllOrders cancels every open order visible to cred (optionally
	// only on the given unified symbols, e.g. "BTC/USDT").
	CancelAllOrders(ctx context.Context, cred Credential, symbols []string) (CancelResult, error)
	// VerifyKey calls the exchange with cred from the local address fromIP
	// ("" = the adapter's default LocalAddr) and reports whether the key
	// authenticates and what rights it reports for itself. A rejection is a
	// result (Authenticated=false), not an error; errors are transport,
	// rate-limit or availability problems.
	VerifyKey(ctx context.Context, cred Credential, fromIP string) (Verification, error)
	// SelfRevoke deletes cred's own key using cred itself, where the exchange
	// allows it (Capabilities.SelfRevoke); KindUnsupported otherwise.
	SelfRevoke(ctx context.Context, cred Credential) error

	// Close releases idle connections.
	Close() error
}

// Config opens one exchange account.
type Config struct {
	// Exchange is "binance", "okx" or "bybit".
	Exchange string `json:"exchange"`
	// BaseURL overrides every API URL (the simulator's URL for this dialect,
	// e.g. http://127.0.0.1:7070/binance). Empty = the real exchange.
	BaseURL string `json:"base_url,omitempty"`
	// Management is the management credential (resolved from the secret
	// store by the caller; never logged: Credential redacts itself).
	Management Credential `json:"management"`
	// ManagementKeyRef names where Management came from (for messages only).
	ManagementKeyRef string `json:"management_key_ref,omitempty"`
	// LocalAddr is the source IP outgoing connections bind to ("" = any).
	// Tests use it to appear as a given bot or attacker IP.
	LocalAddr string `json:"local_addr,omitempty"`
	// Options are adapter specific; every adapter reads "timeout_ms" (per
	// HTTP request, default 30s).
	Options map[string]any `json:"options,omitempty"`
}

// Opener builds an adapter from a config.
type Opener func(cfg Config) (Exchange, error)

var (
	openersMu sync.RWMutex
	openers   = map[string]Opener{}
)

// Register makes an adapter available to Open. Adapters call it from init;
// a binary includes an exchange by importing its package (blank import).
func Register(name string, o Opener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	if _, dup := openers[name]; dup {
		panic("exchange: adapter registered twice: " + name)
	}
	openers[name] = o
}

// Registered lists the adapter names available, sorted.
func Registered() []string {
	openersMu.RLock()
	defer openersMu.RUnlock()
	out := make([]string, 0, len(openers))
	for n := range openers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Open builds the adapter named by cfg.Exchange.
func Open(cfg Config) (Exchange, error) {
	openersMu.RLock()
	o, ok := openers[cfg.Exchange]
	openersMu.RUnlock()
	if !ok {
		return nil, &Error{Kind: KindInvalid, Exchange: cfg.Exchange, Op: "open",
			Message: fmt.Sprintf("no adapter for exchange %q (have %v)", cfg.Exchange, Registered())}
	}
	return o(cfg)
}

// FindByLabel returns the live key with the given label, if any. It is how
// CreateKey is made idempotent: the label carries incident and step.
func FindByLabel(ctx context.Context, ex Exchange, subAccount, label string) (Key, bool, error) {
	keys, err := ex.ListKeys(ctx, subAccount)
	if err != nil {
		return Key{}, false, err
	}
	for _, k := range keys {
		if k.Label == label {
			return k, true, nil
		}
	}
	return Key{}, false, nil
}

// Trader is a plain trading client on one key: what a bot — or, in drills
// and tests, an attacker holding a leaked key — does with it. Containment
// never needs it; it exists so scenarios can prove what a key can still do.
type Trader interface {
	// PlaceOrder places a limit order (price > 0) or a market order
	// (price == 0) on a unified symbol ("BTC/USDT") and returns its id.
	PlaceOrder(ctx context.Context, symbol, side string, amount, price float64) (string, error)
	// Withdraw asks for an on-chain withdrawal and returns its id.
	Withdraw(ctx context.Context, asset string, amount float64, address string) (string, error)
}

// TraderProvider is implemented by adapters that can act as a Trader.
type TraderProvider interface {
	// Trader returns a client using cred from the local address fromIP
	// ("" = the adapter's LocalAddr).
	Trader(cred Credential, fromIP string) Trader
}
