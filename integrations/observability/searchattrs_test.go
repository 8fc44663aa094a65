package observability

import (
	"testing"

	"go.temporal.io/sdk/converter"
)

func TestIncidentAttributes(t *testing.T) {
	a := IncidentAttributes{Runbook: "contain-key-breach", Bot: "grid-btc", Exchange: "binance", Severity: "critical", Trigger: "event"}
	typed := a.Typed()
	if v, ok := typed.GetKeyword(SABotID); !ok || v != "grid-btc" {
		t.Errorf("typed BotID = %q %v", v, ok)
	}
	if typed.Size() != 5 {
		t.Errorf("typed size %d, want 5", typed.Size())
	}
	p, err := a.Proto()
	if err != nil {
		t.Fatal(err)
	}
	var sev string
	if err := converter.GetDefaultDataConverter().FromPayload(p.IndexedFields["Severity"], &sev); err != nil || sev != "critical" {
		t.Errorf("proto Severity = %q %v", sev, err)
	}
	empty, _ := IncidentAttributes{Runbook: "r"}.Proto()
	if len(empty.IndexedFields) != 1 {
		t.Errorf("empty values must be left out: %v", empty.IndexedFields)
	}
}
