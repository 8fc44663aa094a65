package workflows

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
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
