package sms_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keyresponse/runbook/integrations/sms"
)

func names(ps []sms.Person) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}

func TestRosterFromYAML(t *testing.T) {
	src := `
people:
  - {name: alice, phone: "+4915100000001", role: sre}
  - {name: bob, phone: "+4915100000002", role: security}
escalation: [bob, alice]
ack_timeout: 3m
quiet_hours: {start: "22:00", end: "07:00", zone: Europe/Berlin}
`
	var r sms.Roster
	if err := yaml.Unmarshal([]byte(src), &r); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.Ack() != 3*time.Minute || r.QuietHours.Zone != "Europe/Berlin" {
		t.Fatalf("decoded %+v", r)
	}
	chain, _ := r.Chain("oncall")
	if names(chain) != "bob,alice" {
		t.Fatalf("oncall chain %s", names(chain))
	}
}

func TestRosterValidation(t *testing.T) {
	bad := map[string]func(r *sms.Roster){
		"local number":          func(r *sms.Roster) { r.People[0].Phone = "015100000001" },
		"duplicate name":        func(r *sms.Roster) { r.People[1].Name = "alice" },
		"duplicate phone":       func(r *sms.Roster) { r.People[1].Phone = r.People[0].Phone },
		"unknown in escalation": func(r *sms.Roster) { r.Escalation = append(r.Escalation, "dave") },
		"escalation twice":      func(r *sms.Roster) { r.Escalation = []string{"alice", "alice"} },
		"reserved role":         func(r *sms.Roster) { r.People[0].Role = "oncall" },
		"bad quiet hours":       func(r *sms.Roster) { r.QuietHours = &sms.QuietHours{Start: "25:00", End: "07:00"} },
		"bad template":          func(r *sms.Roster) { r.Template = "{{.Nope" },
	}
	for name, mutate := range bad {
		r := testRoster()
		mutate(r)
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := testRoster().Validate(); err != nil {
		t.Fatalf("good roster rejected: %v", err)
	}
}

func TestChainOrder(t *testing.T) {
	r := testRoster()
	for to, want := range map[string]string{
		"oncall":   "carol,alice,bob",
		"sre":      "carol,alice", // escalation order, not roster order
		"security": "bob",
	} {
		got, err := r.Chain(to)
		if err != nil || names(got) != want {
			t.Errorf("Chain(%q) = %s, %v; want %s", to, names(got), err, want)
		}
	}
	if _, err := r.Chain("finance"); err == nil || !strings.Contains(err.Error(), "security") {
		t.Fatalf("unknown role: %v", err)
	}
	r.Escalation = nil
	if got, _ := r.Chain("oncall"); names(got) != "alice,bob,carol" {
		t.Fatalf("no escalation order: %s", names(got))
	}
}

func TestQuietHoursNeverHoldBreaches(t *testing.T) {
	r := testRoster()
	r.QuietHours = &sms.QuietHours{Start: "22:00", End: "07:00", Zone: "UTC"}
	night := time.Date(2026, 11, 27, 23, 30, 0, 0, time.UTC)
	early := time.Date(2026, 11, 27, 6, 59, 0, 0, time.UTC)
	day := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		sev  sms.Severity
		at   time.Time
		held bool
	}{
		{sms.SeverityLow, night, true},
		{sms.SeverityMedium, early, true},
		{sms.SeverityLow, day, false},
		{sms.SeverityHigh, night, false},
		{sms.SeverityCritical, night, false},
	}
	for _, c := range cases {
		if got := r.Suppressed(c.sev, c.at); got != c.held {
			t.Errorf("%s at %s: held=%v, want %v", c.sev, c.at.Format("15:04"), got, c.held)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	if got := sms.MaskPhone("+4915112345678"); got != "+491…5678" {
		t.Fatalf("MaskPhone = %q", got)
	}
}

func TestExampleRosterIsValid(t *testing.T) {
	b, err := os.ReadFile("testdata/roster.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var r sms.Roster
	if err := yaml.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if chain, _ := r.Chain("oncall"); names(chain) != "alice,bob,carol" || r.Ack() != 5*time.Minute {
		t.Fatalf("chain %s, ack %s", names(chain), r.Ack())
	}
}
