package workflows

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/runbooks"
)

const historiesDir = "testdata/histories"

// TestReplayRecordedHistories replays every recorded history against the
// current IncidentWorkflow: a change that would break running incidents
// (non-determinism) fails here before it ships.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	require.NoError(t, err)
	if len(files) == 0 {
		t.Skipf("no recorded histories in %s: record them with RecordHistory (see record_test.go, RECORD_HISTORIES=1)", historiesDir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := os.Open(f)
			require.NoError(t, err)
			defer r.Close()
			h, err := client.HistoryFromJSON(r, client.HistoryJSONOptions{})
			require.NoError(t, err)
			require.NotEmpty(t, h.Events, "empty history file")

			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflowWithOptions(IncidentWorkflow, workflow.RegisterOptions{Name: IncidentWorkflowName})
			require.NoError(t, replayer.ReplayWorkflowHistory(nil, h))
		})
	}
}

// TestReplayDetectsNonDeterminism proves the replay test can fail: the same
// recorded history replayed against a workflow that schedules a different
// first command must be rejected.
func TestReplayDetectsNonDeterminism(t *testing.T) {
	f := filepath.Join(historiesDir, "sequential-parallel.json")
	r, err := os.Open(f)
	if os.IsNotExist(err) {
		t.Skipf("%s not recorded yet", f)
	}
	require.NoError(t, err)
	defer r.Close()
	h, err := client.HistoryFromJSON(r, client.HistoryJSONOptions{})
	require.NoError(t, err)

	changed := func(ctx workflow.Context, in IncidentInput) (IncidentState, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		err := workflow.ExecuteActivity(ctx, "core.log", runbooks.ActionRequest{StepID: "changed"}).Get(ctx, nil)
		return IncidentState{}, err
	}
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(changed, workflow.RegisterOptions{Name: IncidentWorkflowName})
	err = replayer.ReplayWorkflowHistory(nil, h)
	require.Error(t, err)
	require.Contains(t, err.Error(), "nondeterministic")
}
