package ingest

import (
	"reflect"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/breach"
)

// eventMap must build exactly what breach.Event.Map builds, for events as
// the consumer decodes them.
func TestEventMapMatchesMap(t *testing.T) {
	now := time.Now()
	signed := func(ev breach.Event) breach.Event {
		s, err := breach.Sign(ev, testKeyring(), "k1")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	plain := event("bot-1", "key_leaked", breach.SeverityHigh, now)
	nested := event("bot-2", "unknown_ip", breach.SeverityLow, now)
	nested.Data.Evidence = map[string]any{"ips": []any{"203.0.113.7", 3.5, true, nil}, "geo": map[string]any{"cc": "NL", "n": 1e21}}
	schema := event("bot-3", "key_leaked", breach.SeverityCritical, now)
	schema.DataSchema = "https://example.invalid/schema"
	empty := event("bot-4", "key_leaked", breach.SeverityMedium, now)
	empty.Data.Evidence = map[string]any{}
	for _, ev := range []breach.Event{signed(plain), plain, signed(nested), signed(schema), signed(empty)} {
		body := mustJSON(t, ev)
		dec, err := breach.Decode("", body)
		if err != nil {
			t.Fatal(err)
		}
		want, err := dec.Map()
		if err != nil {
			t.Fatal(err)
		}
		got, err := eventMap(dec)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("eventMap\n got  %#v\n want %#v", got, want)
		}
	}
}

// A new field on breach.Event or breach.Data must be added to eventMap:
// this fails until the counts below are updated with it.
func TestEventMapKnowsEveryField(t *testing.T) {
	if n := reflect.TypeFor[breach.Event]().NumField(); n != 13 {
		t.Errorf("breach.Event has %d fields; update eventMap, then this count", n)
	}
	if n := reflect.TypeFor[breach.Data]().NumField(); n != 6 {
		t.Errorf("breach.Data has %d fields; update eventMap, then this count", n)
	}
}
