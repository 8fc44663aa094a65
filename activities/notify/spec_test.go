package notify_test

import (
	"strings"
	"testing"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/activities/notify"
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
