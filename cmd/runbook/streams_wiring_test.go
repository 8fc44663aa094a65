package main

import (
	"strings"
	"testing"

	"github.com/keyresponse/runbook/cmd/runbook/config"
)

// A present stream setting is applied or refused, naming the setting.
func TestStreamSettingsFromConfig(t *testing.T) {
	s, err := streamSettingsFrom(config.Streams{BreachMaxBytes: 64 << 20, DLQMaxMsgs: 10, FetchBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if s.storage.BreachMaxBytes != 64<<20 || s.storage.DLQMaxMsgs != 10 || s.fetchBytes != 1<<20 {
		t.Fatalf("settings %+v not applied", s)
	}
	for _, tc := range []struct {
		cfg  config.Streams
		want string
	}{
		{config.Streams{FetchBytes: 4096}, "streams.fetch_bytes"},
		{config.Streams{BreachMaxBytes: 1 << 20}, "streams.breach_max_bytes"},
		{config.Streams{DLQMaxBytes: 1000}, "streams.dlq_max_bytes"},
	} {
		if _, err := streamSettingsFrom(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want a refusal naming %s", tc.cfg, err, tc.want)
		}
	}
}
