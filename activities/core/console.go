package core

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/runbooks"
)

// ConsoleParams are notify.console's params.
type ConsoleParams struct {
	Message string `json:"message"`
	Level   string `json:"level"`
}

// Validate checks the level.
func (p *ConsoleParams) Validate() error {
	switch p.Level {
	case "info", "warn", "error":
		return nil
	}
	return fmt.Errorf("level %q is not one of info, warn, error", p.Level)
}

// ConsoleSpec declares notify.console.
var ConsoleSpec = runbooks.ActionSpec{
	Name:        "notify.console",
	Description: "Print a line on the worker's console (runbook dev shows it). For demos and local runs; SMS goes through notify.sms.",
	Params: []runbooks.ParamSpec{
		{Name: "message", Type: runbooks.ParamString, Required: true},
		{Name: "level", Type: runbooks.ParamString, Default: "info", Enum: []string{"info", "warn", "error"}},
	},
	Outputs: []string{"printed"},
	// Printing on our own console changes nothing outside the engine.
	SideEffect: runbooks.ReadOnly,
	Example:    "- id: tell\n  action: notify.console\n  with: {message: \"bot ${{ inputs.bot }} frozen\"}",
}

// Console returns notify.console writing to w. Each line names the incident
// and step so interleaved incidents stay readable.
func Console(w io.Writer) activities.Action {
	var mu sync.Mutex
	return activities.Typed(ConsoleSpec, func(ctx context.Context, req runbooks.ActionRequest, p ConsoleParams) (runbooks.ActionResult, error) {
		line := fmt.Sprintf("%s [%s] %s/%s: %s\n", time.Now().UTC().Format("15:04:05.000"), p.Level, req.IncidentID, req.StepID, p.Message)
		mu.Lock()
		_, err := io.WriteString(w, line)
		mu.Unlock()
		if err != nil {
			return runbooks.ActionResult{}, activities.Retryable(activities.ErrUnavailable, err)
		}
		return runbooks.ActionResult{Outputs: map[string]any{"printed": true}, Summary: p.Message}, nil
	})
}
