// Package core holds the generic actions every runbook may use: waiting and
// console notification.
package core

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/runbooks"
)

// MaxWait bounds core.wait: a long pause belongs in an approval gate's
// timeout (a durable workflow timer), not in an activity holding a worker slot.
const MaxWait = time.Hour

// WaitParams are core.wait's params.
type WaitParams struct {
	Duration string `json:"duration"`
	d        time.Duration
}

// Validate parses and bounds the duration.
func (p *WaitParams) Validate() error {
	d, err := runbooks.ParseDuration(p.Duration)
	if err != nil {
		return err
	}
	if d.D() < 0 || d.D() > MaxWait {
		return fmt.Errorf("duration %s must be between 0 and %s", p.Duration, MaxWait)
	}
	p.d = d.D()
	return nil
}

// WaitSpec declares core.wait.
var WaitSpec = runbooks.ActionSpec{
	Name:        "core.wait",
	Description: "Pause for a short time (e.g. let an exchange propagate a key change). At most one hour.",
	Params: []runbooks.ParamSpec{
		{Name: "duration", Type: runbooks.ParamDuration, Required: true, Description: "how long, e.g. 2s"},
	},
	Outputs:    []string{"waited"},
	SideEffect: runbooks.ReadOnly,
	Example:    "- id: settle\n  action: core.wait\n  with: {duration: 2s}",
}

// Wait returns the core.wait action. It heartbeats so a cancelled incident
// stops waiting at once.
func Wait() activities.Action {
	return activities.Typed(WaitSpec, func(ctx context.Context, req runbooks.ActionRequest, p WaitParams) (runbooks.ActionResult, error) {
		deadline := time.NewTimer(p.d)
		defer deadline.Stop()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return runbooks.ActionResult{}, ctx.Err()
			case <-tick.C:
				if activity.IsActivity(ctx) {
					activity.RecordHeartbeat(ctx)
				}
			case <-deadline.C:
				return runbooks.ActionResult{
					Outputs: map[string]any{"waited": p.d.String()},
					Summary: "waited " + p.d.String(),
				}, nil
			}
		}
	})
}
