package config

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Problem is one thing wrong with a config, named by its field path.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Field + ": " + p.Message }

var (
	e164      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// Check validates the config as a whole: enums, references between
// sections, and that no field holds what looks like a secret value.
func (c *Config) Check() []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if a := c.Temporal.Address; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			add("temporal.address", "%q is not host:port", a)
		}
	}
	checkTLSPair(add, "temporal.tls", c.Temporal.TLS)
	checkTLSPair(add, "nats.tls", c.NATS.TLS)
	if u := c.NATS.URL; u != "" && !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") && !strings.HasPrefix(u, "ws") {
		add("nats.url", "%q: want nats://, tls:// or ws(s)://", u)
	}
	auth := 0
	for _, v := range []string{c.NATS.CredsFile, c.NATS.NKeyFile, c.NATS.User, c.NATS.TokenEnv} {
		if v != "" {
			auth++
		}
	}
	if auth > 1 {
		add("nats", "use one of creds_file, nkey_file, user+password_env, token_env")
	}
	if c.NATS.User != "" && c.NATS.PasswordEnv == "" {
		add("nats.password_env", "user is set: name the environment variable holding the password")
	}
	if c.Limits.Global < 0 || c.Limits.PerExchange < 0 {
		add("limits", "caps cannot be negative")
	}
	ps = append(ps, c.Streams.check()...)
	ps = append(ps, c.Events.checkPublishers()...)
	switch c.Secrets.Backend {
	case "", "file", "nats-kv":
	case "vault":
		if c.Secrets.VaultAddress == "" {
			add("secrets.vault_address", "required for the vault backend")
		}
	default:
		add("secrets.backend", "%q is not one of file, vault, nats-kv", c.Secrets.Backend)
	}
	accounts := map[string]bool{}
	for i, e := range c.Exchanges {
		f := fmt.Sprintf("exchanges[%d]", i)
		if !idPattern.MatchString(e.Name) {
			add(f+".name", "%q: want letters, digits, - or _", e.Name)
		}
		if accounts[e.Name] {
			add(f+".name", "%q is defined twice", e.Name)
		}
		accounts[e.Name] = true
		switch e.Exchange {
		case "binance", "okx", "bybit":
		default:
			add(f+".exchange", "%q is not one of binance, okx, bybit", e.Exchange)
		}
		if e.ManagementKeyRef == "" {
			add(f+".management_key_ref", "required: the secret store name of the management credential")
		}
	}
	bots := map[string]bool{}
	for i, b := range c.Bots {
		f := fmt.Sprintf("bots[%d]", i)
		if !idPattern.MatchString(b.ID) {
			add(f+".id", "%q: want letters, digits, - or _ (it is a NATS subject token)", b.ID)
		}
		if bots[b.ID] {
			add(f+".id", "%q is defined twice", b.ID)
		}
		bots[b.ID] = true
		switch b.Kind {
		case "freqtrade", "webhook", "nats":
		default:
			add(f+".kind", "%q is not one of freqtrade, webhook, nats", b.Kind)
		}
		if (b.Kind == "freqtrade" || b.Kind == "webhook") && b.URL == "" {
			add(f+".url", "required for kind %s", b.Kind)
		}
		if !accounts[b.Account] {
			add(f+".account", "%q names no entry of exchanges", b.Account)
		}
		for j, ip := range b.IPs {
			if _, _, err := net.ParseCIDR(ip); err != nil && net.ParseIP(ip) == nil {
				add(fmt.Sprintf("%s.ips[%d]", f, j), "%q is not an IP address or CIDR", ip)
			}
		}
		if b.Kind == "freqtrade" && b.PasswordEnv == "" && b.PasswordRef == "" {
			add(f+".password_ref", "freqtrade needs its API password: password_ref (secret store) or password_env")
		}
		if len(b.IPs) == 0 {
			add(f+".ips", "the bot's egress IPs are required: new keys are whitelisted to them")
		}
	}
	people := map[string]bool{}
	for i, p := range c.Oncall.People {
		f := fmt.Sprintf("oncall.people[%d]", i)
		people[p.Name] = true
		if !e164.MatchString(p.Phone) {
			add(f+".phone", "%q is not an E.164 number like +15551234567", p.Phone)
		}
	}
	for i, n := range c.Oncall.Escalation {
		if !people[n] {
			add(fmt.Sprintf("oncall.escalation[%d]", i), "%q is not in oncall.people", n)
		}
	}
	c.checkAuthz(add)
	ps = append(ps, c.Alertmanager.Problems()...)
	c.checkAllowInsecure(add)
	return ps
}

func checkTLSPair(add func(field, format string, args ...any), field string, t *TLS) {
	if t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		add(field, "cert_file and key_file go together")
	}
}

// CheckFiles reads every file the transport settings name, as the worker
// will at start: run where the config is used (a laptop does not have the
// pod's /etc/runbook/tls). Check stays file-free so the shipped manifests can
// be checked anywhere.
func (c *Config) CheckFiles() []Problem {
	var ps []Problem
	for field, t := range map[string]*TLS{"temporal.tls": c.Temporal.TLS, "nats.tls": c.NATS.TLS} {
		if t != nil && (t.CertFile == "") != (t.KeyFile == "") {
			continue // Check reports the half pair
		}
		if _, err := t.ClientConfig(field); err != nil {
			f, msg, _ := strings.Cut(err.Error(), ": ")
			ps = append(ps, Problem{Field: f, Message: msg})
		}
	}
	for field, f := range map[string]string{"nats.creds_file": c.NATS.CredsFile, "nats.nkey_file": c.NATS.NKeyFile} {
		if f != "" {
			if _, err := os.ReadFile(f); err != nil {
				ps = append(ps, Problem{Field: field, Message: err.Error()})
			}
		}
	}
	ps = append(ps, c.checkAuthzFiles()...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].Field < ps[j].Field })
	return ps
}
