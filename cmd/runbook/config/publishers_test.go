package config

import (
	"strings"
	"testing"
)

func TestPublisherLanesAreChecked(t *testing.T) {
	c := &Config{Events: Events{Publishers: []Publisher{
		{Name: "monitor"}, {Name: "Bad Name"}, {Name: "monitor"}, {Name: "ok", MaxMsgs: -1, MaxBytes: 1000},
	}}}
	got := map[string]string{}
	for _, p := range c.Check() {
		if strings.HasPrefix(p.Field, "events.publishers") {
			got[p.Field] = p.Message
		}
	}
	for field, want := range map[string]string{
		"events.publishers[1].name":      "lowercase letters",
		"events.publishers[2].name":      "already events.publishers[0]",
		"events.publishers[3].max_msgs":  "negative",
		"events.publishers[3].max_bytes": "four maximum-size messages",
	} {
		if !strings.Contains(got[field], want) {
			t.Errorf("%s: %q, want it to say %q (all: %v)", field, got[field], want, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("problems %v, want exactly 4", got)
	}
	if l := (Events{Publishers: []Publisher{{Name: "monitor", Rate: -1}}}).Lanes(); len(l) != 1 || l[0].Publisher != "monitor" || l[0].Rate != -1 {
		t.Errorf("lanes %+v", l)
	}
}
