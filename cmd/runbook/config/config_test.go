package config

import (
	"strings"
	"testing"
)

func TestExampleConfigIsValid(t *testing.T) {
	c, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if probs := append(c.Check(), c.Unsafe()...); len(probs) != 0 {
		t.Fatalf("example config has problems: %v", probs)
	}
	if c.Temporal.Namespace != "runbook" || c.Limits.Window.D().Minutes() != 60 || len(c.Bots) != 1 {
		t.Errorf("decoded %+v", c)
	}
}

func TestUnknownFieldNamesItsLine(t *testing.T) {
	_, err := Parse("bad.yaml", []byte("temporal:\n  adress: x:1\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "adress") {
		t.Fatalf("err = %v, want the line and the unknown field", err)
	}
	_, err = Parse("bad.yaml", []byte("events:\n  window: soon\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad duration: err = %v", err)
	}
}

func TestCheckFindsBrokenReferences(t *testing.T) {
	c, err := Parse("x.yaml", []byte(`
exchanges:
  - {name: main, exchange: kraken}
bots:
  - {id: "bot 1", kind: freqtrade, account: nowhere, ips: [not-an-ip]}
oncall:
  people: [{name: alice, phone: "555-0100"}]
  escalation: [alice, zed]
secrets: {backend: s3}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range c.Check() {
		got[p.Field] = true
	}
	for _, field := range []string{"exchanges[0].exchange", "exchanges[0].management_key_ref", "bots[0].id", "bots[0].url",
		"bots[0].account", "bots[0].ips[0]", "oncall.people[0].phone", "oncall.escalation[1]", "secrets.backend"} {
		if !got[field] {
			t.Errorf("no problem reported for %s (got %v)", field, got)
		}
	}
}

func TestEnvironmentOverridesTheFile(t *testing.T) {
	c, _ := Parse("x.yaml", []byte("temporal: {address: a:1}\nnats: {url: nats://a:1}\n"))
	env := map[string]string{"RUNBOOK_TEMPORAL_ADDRESS": "b:2", "RUNBOOK_HTTP_ALLOWED_HOSTS": "h1, h2", "RUNBOOK_PATH": "/x:/y"}
	c.ApplyEnv(func(k string) string { return env[k] })
	if c.Temporal.Address != "b:2" || c.NATS.URL != "nats://a:1" || len(c.HTTP.AllowedHosts) != 2 || len(c.Runbooks.Dirs) != 2 {
		t.Errorf("after env: %+v", c)
	}
}

func TestStreamsLimitsCannotBeNegative(t *testing.T) {
	c := &Config{Streams: Streams{BreachMaxBytes: -1, FetchBytes: -5}}
	got := map[string]bool{}
	for _, p := range c.Check() {
		got[p.Field] = true
	}
	if !got["streams.breach_max_bytes"] || !got["streams.fetch_bytes"] || got["streams.dlq_max_msgs"] {
		t.Fatalf("problems %v: want streams.breach_max_bytes and streams.fetch_bytes only", got)
	}
}
