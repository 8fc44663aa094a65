package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/integrations/sms"
)

// floodPager pages on-call when the trigger consumer reports a flooded
// publisher lane: one SMS to the first person of the on-call chain (the
// consumer sends at most one alert per lane per cooldown), and an error
// log line either way, so a flood is noticed even with no SMS set up.
func floodPager(s *smsSetup, log *slog.Logger) func(ingest.FloodAlert) {
	return func(a ingest.FloodAlert) {
		text := a.Text()
		if s == nil || s.sender == nil || s.roster == nil {
			log.Error("flood alert not paged: no SMS sender configured", "alert", text)
			return
		}
		chain, err := s.roster.Chain(sms.ToOnCall)
		if err != nil || len(chain) == 0 {
			log.Error("flood alert not paged: nobody on call", "alert", text, "err", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := s.sender.Send(ctx, chain[0].Phone, "[runbook] "+text); err != nil {
			log.Error("flood alert page failed", "alert", text, "to", chain[0].Name, "err", err)
			return
		}
		log.Warn("flood alert paged", "to", chain[0].Name, "publisher", a.Publisher)
	}
}
