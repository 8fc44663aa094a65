package main

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// updateWorkflow sends an Update, retrying while the server answers
// WorkflowNotReady: it does when the workflow task carrying the Update
// failed for a reason of its own (an activity result racing the Update, a
// worker restart), before the Update was accepted — so nothing is in
// history and the same signed statement (same nonce) may be sent again.
// Seen as "abort refused: Unable to perform workflow execution update due
// to unexpected workflow task failure" on a loaded CI machine.
func updateWorkflow(ctx context.Context, c client.Client, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	var notReady *serviceerror.WorkflowNotReady
	for attempt := 1; ; attempt++ {
		h, err := c.UpdateWorkflow(ctx, opts)
		if err == nil || !errors.As(err, &notReady) || attempt == 5 {
			return h, err
		}
		select {
		case <-ctx.Done():
			return h, err
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
}
