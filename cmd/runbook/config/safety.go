package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// The overrides allow_insecure accepts: one per refusal of Unsafe. A lab
// names each door it leaves open, so nothing is open by accident.
const (
	InsecureTemporalPlaintext = "temporal_plaintext"
	InsecureNATSPlaintext     = "nats_plaintext"
	InsecureVaultHTTP         = "vault_http"
	InsecureNoOperators       = "no_operators"
)

var insecureOverrides = []string{InsecureTemporalPlaintext, InsecureNATSPlaintext, InsecureVaultHTTP, InsecureNoOperators}

// renamedOverrides are overrides that no longer exist, with what replaced them.
var renamedOverrides = map[string]string{
	"no_approvers": "the approver list is gone (operators with roles replaced it): the override is " + InsecureNoOperators,
}

// Unsafe lists what makes the config unfit for production, each with why
// and the override that would accept it: `runbook config check` and
// `runbook worker` refuse a config with any. Traffic to a loopback address
// (127.0.0.0/8, ::1, localhost) never leaves the host, so plaintext there is
// fine: `runbook dev` needs no override.
func (c *Config) Unsafe() []Problem {
	var ps []Problem
	allowed := func(o string) bool { return slices.Contains(c.AllowInsecure, o) }
	add := func(override, field, msg string) {
		if !allowed(override) {
			ps = append(ps, Problem{Field: field, Message: msg + " (a lab may accept this with allow_insecure: [" + override + "])"})
		}
	}
	// An API key alone is TLS too: the client never sends it in clear
	// (temporalTransportOf), as Temporal Cloud configs have no tls block.
	if c.Temporal.TLS == nil && c.Temporal.APIKeyEnv == "" && c.Temporal.Address != "" && !loopbackHostPort(c.Temporal.Address) {
		add(InsecureTemporalPlaintext, "temporal.tls",
			"plaintext gRPC to "+c.Temporal.Address+": anyone on the path reads and forges workflow traffic (approvals, signals); set temporal.tls")
	}
	if c.NATS.TLS == nil {
		for _, u := range strings.Split(c.NATS.URL, ",") {
			if u = strings.TrimSpace(u); u != "" && natsPlaintext(u) && !loopbackURL(u) {
				add(InsecureNATSPlaintext, "nats.tls",
					"plaintext NATS to "+u+": credentials, breach events and the audit trail cross the network readable; set nats.tls or use tls://")
				break
			}
		}
	}
	if c.Secrets.Backend == "vault" {
		if u, err := url.Parse(c.Secrets.VaultAddress); err == nil && u.Scheme == "http" && !loopbackHost(u.Hostname()) {
			add(InsecureVaultHTTP, "secrets.vault_address",
				c.Secrets.VaultAddress+" is http: the Vault token and every exchange key read from Vault cross the network in clear; use https")
		}
	}
	if len(c.Operators) == 0 {
		add(InsecureNoOperators, "operators",
			"no operators: with an empty roster nobody can approve a gate, abort, or start an incident by hand on this worker; list who may act (docs/security.md)")
	}
	return ps
}

// checkAllowInsecure is Check's part: an override it does not know is a
// typo that would leave the refusal in place, or hide one.
func (c *Config) checkAllowInsecure(add func(field, format string, args ...any)) {
	for i, o := range c.AllowInsecure {
		if why, ok := renamedOverrides[o]; ok {
			add(fmt.Sprintf("allow_insecure[%d]", i), "%q: %s", o, why)
			continue
		}
		if !slices.Contains(insecureOverrides, o) {
			add(fmt.Sprintf("allow_insecure[%d]", i), "%q is not one of %s", o, strings.Join(insecureOverrides, ", "))
		}
	}
}

// natsPlaintext: nats:// (or a bare host:port, which the client reads as
// nats://) and ws:// carry no TLS unless nats.tls demands it.
func natsPlaintext(u string) bool {
	scheme, _, ok := strings.Cut(u, "://")
	if !ok {
		return true
	}
	return scheme == "nats" || scheme == "ws"
}

func loopbackURL(u string) bool {
	if !strings.Contains(u, "://") {
		u = "nats://" + u
	}
	p, err := url.Parse(u)
	return err == nil && loopbackHost(p.Hostname())
}

func loopbackHostPort(hp string) bool {
	host, _, err := net.SplitHostPort(hp)
	return err == nil && loopbackHost(host)
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
