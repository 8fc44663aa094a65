package config

import (
	"strings"
	"testing"
)

func problemFields(ps []Problem) map[string]string {
	out := map[string]string{}
	for _, p := range ps {
		out[p.Field] = p.Message
	}
	return out
}

// What a production config must not do, each refusal naming its field, why
// and the override.
func TestUnsafeConfigsAreRefusedSayingWhy(t *testing.T) {
	c, err := Parse("prod.yaml", []byte(`
temporal: {address: temporal.prod.internal:7233}
nats: {url: "nats://127.0.0.1:4222,nats://nats-2.prod.internal:4222"}
secrets: {backend: vault, vault_address: "http://vault.prod.internal:8200"}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := problemFields(c.Unsafe())
	for field, why := range map[string]string{
		"temporal.tls":          "plaintext gRPC to temporal.prod.internal:7233",
		"nats.tls":              "plaintext NATS to nats://nats-2.prod.internal:4222",
		"secrets.vault_address": "is http",
		"operators":             "empty roster",
	} {
		if !strings.Contains(got[field], why) || !strings.Contains(got[field], "allow_insecure") {
			t.Errorf("%s: got %q, want it to say %q and name the override", field, got[field], why)
		}
	}
	if len(got) != 4 {
		t.Errorf("got %d problems, want 4: %v", len(got), got)
	}

	// A lab names every door it leaves open; naming some leaves the rest.
	c.AllowInsecure = []string{InsecureTemporalPlaintext, InsecureNATSPlaintext}
	got = problemFields(c.Unsafe())
	if _, ok := got["temporal.tls"]; ok || len(got) != 2 {
		t.Errorf("with two overrides: %v, want only vault and operators", got)
	}
	c.AllowInsecure = append(c.AllowInsecure, InsecureVaultHTTP, InsecureNoOperators)
	if ps := c.Unsafe(); len(ps) != 0 {
		t.Errorf("every override named, still refused: %v", ps)
	}
}

// Secured transports, and plaintext that never leaves the host (what
// `runbook dev` writes), need no override.
func TestSafeConfigsPass(t *testing.T) {
	for name, src := range map[string]string{
		"tls everywhere": `
temporal: {address: temporal.prod.internal:7233, tls: {ca_file: /etc/ca.pem}}
nats: {url: "nats://nats.prod.internal:4222", tls: {ca_file: /etc/ca.pem}}
secrets: {backend: vault, vault_address: "https://vault.prod.internal:8200"}
operators: [{name: alice, keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICA8Taa9mrLAGR1EBAATPhgIjKzuE3HQHJHTPrEgs8ff alice@example"], roles: [approver]}]`,
		"tls:// url": `
temporal: {address: x.tmprl.cloud:7233, api_key_env: K}
nats: {url: "tls://nats.prod.internal:4222,wss://nats-ws.prod.internal:443"}
operators: [{name: alice, keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICA8Taa9mrLAGR1EBAATPhgIjKzuE3HQHJHTPrEgs8ff alice@example"], roles: [approver]}]`,
		"loopback": `
temporal: {address: "127.0.0.1:7233"}
nats: {url: "nats://127.0.0.1:4222,nats://localhost:4223,[::1]:4224"}
secrets: {backend: vault, vault_address: "http://127.0.0.1:8200"}
operators: [{name: alice, keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICA8Taa9mrLAGR1EBAATPhgIjKzuE3HQHJHTPrEgs8ff alice@example"], roles: [approver]}]`,
	} {
		c, err := Parse(name, []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if ps := c.Unsafe(); len(ps) != 0 {
			t.Errorf("%s: refused: %v", name, ps)
		}
	}
}

func TestAllowInsecureRejectsUnknownOverrides(t *testing.T) {
	c, err := Parse("x.yaml", []byte("allow_insecure: [temporal_plaintext, no_tls]\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := problemFields(c.Check())
	if !strings.Contains(got["allow_insecure[1]"], `"no_tls" is not one of`) {
		t.Errorf("problems %v, want allow_insecure[1] named", got)
	}
	env := map[string]string{"RUNBOOK_ALLOW_INSECURE": "no_operators, vault_http"}
	c.ApplyEnv(func(k string) string { return env[k] })
	if strings.Join(c.AllowInsecure, ",") != "no_operators,vault_http" {
		t.Errorf("RUNBOOK_ALLOW_INSECURE: %v", c.AllowInsecure)
	}
}
