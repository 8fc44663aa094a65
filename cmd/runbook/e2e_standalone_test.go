package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/keyresponse/runbook/workflows"
)

// Given runbook dev, When a client with Temporal access and the payload key
// starts the worker's drill.sign_start activity by itself (a standalone
// activity, no workflow), Then the worker refuses it and signs nothing: the
// engine key vouches only for starts its own workflows checked.
func TestE2E_StandaloneActivitiesAreRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the embedded engine")
	}
	stack, _ := startDemoStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := stack.client.ExecuteActivity(ctx, client.StartActivityOptions{ID: "forged-sign", TaskQueue: "runbook",
		StartToCloseTimeout: 10 * time.Second, ScheduleToCloseTimeout: 30 * time.Second},
		workflows.DrillSignStartActivity, workflows.DrillSignStartRequest{Drill: "x", Incident: "unfreeze:bot-1", Runbook: "unfreeze"})
	if err != nil {
		if strings.Contains(err.Error(), "disabled") || strings.Contains(err.Error(), "not supported") {
			t.Skipf("this server does not run standalone activities at all: %v", err)
		}
		t.Fatalf("start standalone activity: %v", err)
	}
	var out any
	err = h.Get(ctx, &out)
	if err == nil {
		t.Fatalf("a standalone drill.sign_start ran and returned %v", out)
	}
	if !strings.Contains(err.Error(), "runs activities only for its workflows") {
		t.Fatalf("refused for the wrong reason: %v", err)
	}
	t.Logf("refused: %v", err)
}
