package core_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/activities/core"
	"github.com/keyresponse/runbook/runbooks"
)

func TestConsolePrintsIncidentAndStep(t *testing.T) {
	var buf bytes.Buffer
	a := core.Console(&buf)
	_, err := a.Run(context.Background(), runbooks.ActionRequest{IncidentID: "inc-9", StepID: "tell", Params: map[string]any{"message": "bot frozen", "level": "warn"}})
	if err != nil {
		t.Fatal(err)
	}
	if line := buf.String(); !strings.Contains(line, "[warn] inc-9/tell: bot frozen") {
		t.Errorf("console line %q", line)
	}
	_, err = a.Run(context.Background(), runbooks.ActionRequest{Params: map[string]any{"message": "x", "level": "loud"}})
	if activities.ErrorType(err) != activities.ErrInvalidParams {
		t.Errorf("bad level: %v", err)
	}
}

func TestWaitBoundsAndCancel(t *testing.T) {
	a := core.Wait()
	res, err := a.Run(context.Background(), runbooks.ActionRequest{Params: map[string]any{"duration": "10ms"}})
	if err != nil || res.Outputs["waited"] != "10ms" {
		t.Fatalf("wait 10ms: %v %v", res.Outputs, err)
	}
	for _, d := range []string{"2h", "-1s", "soon"} {
		_, err := a.Run(context.Background(), runbooks.ActionRequest{Params: map[string]any{"duration": d}})
		if activities.ErrorType(err) != activities.ErrInvalidParams {
			t.Errorf("duration %s: %v, want InvalidParams", d, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Run(ctx, runbooks.ActionRequest{Params: map[string]any{"duration": "30m"}}); err == nil {
		t.Error("a cancelled wait returned success")
	}
}
