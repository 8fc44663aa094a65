package workflows

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/integrations/temporalcodec"
)

// TestReplayShippedRunbookHistories replays histories recorded by the
// end-to-end tests on the real embedded server running the shipped
// runbooks (contain-key-breach and others). Their payloads are encrypted
// like every production payload, with the test-only key next to them.
// Record again with RECORD_HISTORIES=1 go test -run TestE2E ./cmd/runbook/.
func TestReplayShippedRunbookHistories(t *testing.T) {
	dir := filepath.Join(historiesDir, "encrypted")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(t, err)
	if len(files) == 0 {
		t.Skipf("no recorded histories in %s", dir)
	}
	keys, err := os.ReadFile(filepath.Join(dir, "payload-keys"))
	require.NoError(t, err)
	kr, err := temporalcodec.ParseKeyring(string(keys))
	require.NoError(t, err)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := os.Open(f)
			require.NoError(t, err)
			defer r.Close()
			h, err := client.HistoryFromJSON(r, client.HistoryJSONOptions{})
			require.NoError(t, err)
			replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
				DataConverter:    temporalcodec.DataConverter(kr),
				FailureConverter: temporalcodec.FailureConverter(kr),
			})
			require.NoError(t, err)
			replayer.RegisterWorkflowWithOptions(IncidentWorkflow, workflow.RegisterOptions{Name: IncidentWorkflowName})
			require.NoError(t, replayer.ReplayWorkflowHistory(nil, h))
		})
	}
}
