package config

import (
	"fmt"

	"github.com/keyresponse/runbook/events/ingest"
)

// checkPublishers reports bad publisher lanes, naming the entry and field.
func (e Events) checkPublishers() []Problem {
	var ps []Problem
	seen := map[string]int{}
	for i, p := range e.Publishers {
		f := fmt.Sprintf("events.publishers[%d]", i)
		if err := ingest.ValidPublisherName(p.Name); err != nil {
			ps = append(ps, Problem{Field: f + ".name", Message: err.Error()})
		} else if j, dup := seen[p.Name]; dup {
			ps = append(ps, Problem{Field: f + ".name", Message: fmt.Sprintf("%q is already events.publishers[%d]", p.Name, j)})
		} else {
			seen[p.Name] = i
		}
		for field, v := range map[string]float64{"max_msgs": float64(p.MaxMsgs), "max_bytes": float64(p.MaxBytes), "burst": float64(p.Burst)} {
			if v < 0 {
				ps = append(ps, Problem{Field: f + "." + field, Message: "cannot be negative (leave it out for the default)"})
			}
		}
		if p.MaxBytes != 0 && p.MaxBytes < 4*ingest.MaxMessageBytes {
			ps = append(ps, Problem{Field: f + ".max_bytes", Message: fmt.Sprintf("%d is below %d (four maximum-size messages)", p.MaxBytes, 4*ingest.MaxMessageBytes)})
		}
	}
	return ps
}

// Lanes are the publisher lanes for the trigger consumer (a negative rate
// in the config means no cap, as in ingest.Lane).
func (e Events) Lanes() []ingest.Lane {
	var out []ingest.Lane
	for _, p := range e.Publishers {
		out = append(out, ingest.Lane{Publisher: p.Name, MaxMsgs: p.MaxMsgs, MaxBytes: p.MaxBytes, Rate: p.Rate, Burst: p.Burst})
	}
	return out
}
