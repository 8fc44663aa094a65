package notify_test

import (
	"strings"
	"testing"

	"github.com/keyresponse/runbook/activities"
	exact "github.com/keyresponse/runbook/activities/exchange"
	"github.com/keyresponse/runbook/activities/notify"
	"github.com/keyresponse/runbook/events/ingest/temporalstart"
	"github.com/keyresponse/runbook/runbooks"
)

// The spec is usable by runbook authors: a step like the Example validates,
// and mistakes are caught before anything runs.
func TestRunbookUsingNotifySMSValidates(t *testing.T) {
	reg, err := activities.NewRegistry(notify.SMS(notify.SMSDeps{}))
	if err != nil {
		t.Fatal(err)
	}
	good := `name: page-demo
inputs:
  - {name: bot, type: string, required: true}
steps:
  - id: page_oncall
    action: notify.sms
    on_failure: continue
    retry: {max_attempts: 8}
    with:
      to: oncall
      bot: ${{ inputs.bot }}
      message: "key revoked, new key delivered"
      escalate: true
      ack_timeout: 5m
      reply: approve
      severity: critical
`
	if probs := runbooks.Validate("good.yaml", []byte(good), reg); len(probs) != 0 {
		t.Fatalf("valid runbook rejected: %v", probs)
	}
	example := "name: example\ninputs:\n  - {name: bot, type: string, required: true}\nsteps:\n  " +
		strings.ReplaceAll(notify.SMSSpec.Example, "\n", "\n  ") + "\n"
	if probs := runbooks.Validate("example.yaml", []byte(example), reg); len(probs) != 0 {
		t.Fatalf("the spec's own example does not validate: %v\n%s", probs, example)
	}
	bad := `name: page-demo
steps:
  - id: page_oncall
    action: notify.sms
    with:
      to: oncall
      reply: maybe
`
	if probs := runbooks.Validate("bad.yaml", []byte(bad), reg); len(probs) < 2 {
		t.Fatalf("missing message and bad reply not both reported: %v", probs)
	}
}

// notify.sms is irreversible but pages: the starters' ActionMeta says so,
// so HoldIrreversible never holds the page that tells on-call about a hold.
// Exchange actions do not page.
func TestNotifySMSMetaPages(t *testing.T) {
	list := append([]activities.Action{notify.SMS(notify.SMSDeps{})}, exact.Actions(exact.Deps{})...)
	reg, err := activities.NewRegistry(list...)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"notify.sms"}
	for _, s := range reg.Actions() {
		if strings.HasPrefix(s.Name, "exchange.") {
			names = append(names, s.Name)
		}
	}
	if len(names) < 3 {
		t.Fatalf("no exchange actions in %v", names)
	}
	meta := reg.Meta(names)
	rb := runbooks.Runbook{Name: "page-demo"}
	for _, n := range names {
		rb.Steps = append(rb.Steps, runbooks.Step{ID: strings.ReplaceAll(n, ".", "_"), Action: n})
	}
	resolved, err := temporalstart.ResolveActions(rb, reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		want := n == "notify.sms"
		if meta[n].Pages != want || resolved[n].Pages != want {
			t.Errorf("%s: Meta pages %v, ResolveActions pages %v, want %v", n, meta[n].Pages, resolved[n].Pages, want)
		}
	}
	if meta["notify.sms"].SideEffect != runbooks.Irreversible {
		t.Errorf("notify.sms side effect %q", meta["notify.sms"].SideEffect)
	}
}
