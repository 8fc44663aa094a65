package main

import (
	"strings"
	"testing"

	"github.com/keyresponse/runbook/runbooks"
)

// Every shipped runbook validates against the actions the engine really
// registers (names, params, types, output references).
func TestShippedRunbooksValidateAgainstRegistry(t *testing.T) {
	want := map[string]bool{"contain-key-breach": false, "rotate-keys": false, "unfreeze": false}
	for _, s := range runbooks.Shipped() {
		if _, ok := want[s.Name]; ok {
			want[s.Name] = true
		}
		if ps := runbooks.Validate(s.File, s.Src, catalog()); len(ps) > 0 {
			t.Errorf("%s:\n%s", s.File, runbooks.Problems(ps).Error())
		}
	}
	for name, found := range want {
		if !found {
			t.Errorf("runbook %s is not shipped", name)
		}
	}
}

// `runbook plan` of the breach runbook reads well and touches nothing.
func TestPlanContainKeyBreach(t *testing.T) {
	c := cli{t: t, home: t.TempDir(), temporal: "127.0.0.1:1"}
	r := c.run("plan", "contain-key-breach", "--input", "bot=bot-1", "--input", "severity=critical")
	if r.code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"restrict_leaked_key", "exchange.set_ip_whitelist", "irreversible", "approve_unfreeze", "notify.sms"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
		}
	}
}
