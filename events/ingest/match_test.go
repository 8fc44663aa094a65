package ingest

import (
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/breach"
)

const yamlRunbook = `name: contain-key-breach
inputs:
  - name: bot
    type: string
    required: true
  - name: exchange
    type: string
    required: true
  - name: severity_score
    type: number
    default: 1
triggers:
  - subject: breach.*.withdrawal_attempt
    inputs:
      bot: "${{ event.data.bot }}"
      exchange: "${{ event.data.exchange }}"
      severity_score: "10"
  - subject: breach.>
    when: 'event.data.severity == "critical" && event.data.exchange != "paper"'
    dedup: "${{ event.data.key_id }}"
    inputs:
      bot: "${{ event.data.bot }}"
      exchange: "${{ event.data.exchange }}"
steps:
  - id: noop
    action: core.log
    with:
      message: "bot ${{ inputs.bot }}"
`

// A runbook written in YAML, parsed by the runbooks package, matched by the
// consumer's rules: first matching trigger wins, `when` over the event,
// inputs typed by the runbook's declarations, dedup in the incident id.
func TestMatchYAMLRunbook(t *testing.T) {
	lr, err := ParseRunbook("contain.yaml", []byte(yamlRunbook))
	if err != nil {
		t.Fatal(err)
	}
	rbs := []LoadedRunbook{lr}
	match := func(kind string, sev breach.Severity, exchange string) []Match {
		ev := event("bot-1", kind, sev, time.Now())
		ev.Data.Exchange = exchange
		m, err := ev.Map()
		if err != nil {
			t.Fatal(err)
		}
		out, err := MatchEvent(rbs, ev, m, ev.NATSSubject())
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	m := match("withdrawal_attempt", breach.SeverityLow, "binance")
	if len(m) != 1 || m[0].Trigger != 0 || m[0].IncidentID != "contain-key-breach:bot-1" || m[0].Inputs["severity_score"] != float64(10) {
		t.Fatalf("withdrawal: %+v", m)
	}
	m = match("key_leaked", breach.SeverityCritical, "okx")
	if len(m) != 1 || m[0].Trigger != 1 || m[0].IncidentID != "contain-key-breach:bot-1:AK-bot-1" || m[0].Inputs["exchange"] != "okx" || m[0].Inputs["severity_score"] != float64(1) {
		t.Fatalf("critical: %+v", m)
	}
	if m[0].Runbook.Hash == "" || m[0].Runbook.Hash[:7] != "sha256:" {
		t.Fatalf("hash %q", m[0].Runbook.Hash)
	}
	if m := match("key_leaked", breach.SeverityHigh, "okx"); len(m) != 0 {
		t.Fatalf("high should not match: %+v", m)
	}
	if m := match("key_leaked", breach.SeverityCritical, "paper"); len(m) != 0 {
		t.Fatalf("paper should not match: %+v", m)
	}
}
