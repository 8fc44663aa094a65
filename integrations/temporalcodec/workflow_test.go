package temporalcodec

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// recorder sits outside the encryption codec and keeps what would go to the
// server: the SDK applies codecs last to first on encode, so with
// NewCodecDataConverter(parent, recorder, codec) it sees encrypted payloads.
type recorder struct {
	mu   sync.Mutex
	seen []*commonpb.Payload
}

func (r *recorder) Encode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, ps...)
	return ps, nil
}

func (r *recorder) Decode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) { return ps, nil }

func useSecret(ctx context.Context, s string) (int, error) { return len(s), nil }

func secretWorkflow(ctx workflow.Context, s string) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	var n int
	err := workflow.ExecuteActivity(ctx, "useSecret", s).Get(ctx, &n)
	return n, err
}

func TestWorkflowInputTravelsEncrypted(t *testing.T) {
	kr, _ := NewKeyring("k1", map[string][]byte{"k1": newKey(t)})
	rec := &recorder{}
	dc := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), rec, NewCodec(kr))

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetDataConverter(dc)
	env.RegisterWorkflow(secretWorkflow)
	env.RegisterActivityWithOptions(useSecret, activity.RegisterOptions{Name: "useSecret"})
	env.ExecuteWorkflow(secretWorkflow, canary)
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow: %v", env.GetWorkflowError())
	}
	var n int
	if err := env.GetWorkflowResult(&n); err != nil || n != len(canary) {
		t.Fatalf("result %d, %v: the activity must have seen the decrypted input", n, err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seen) < 3 { // workflow input, activity input, activity result, workflow result
		t.Fatalf("only %d payloads went through the codec", len(rec.seen))
	}
	carried := 0
	for i, p := range rec.seen {
		if string(p.Metadata[converter.MetadataEncoding]) != EncodingEncrypted {
			t.Errorf("payload %d left unencrypted: %v", i, p.Metadata)
		}
		if bytes.Contains(p.Data, []byte(canary)) {
			t.Errorf("payload %d carries the canary in clear", i)
		}
		dec, err := NewCodec(kr).Decode([]*commonpb.Payload{p})
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(dec[0].Data, []byte(canary)) {
			carried++
		}
	}
	if carried < 2 { // workflow input and activity input
		t.Fatalf("the canary went through the codec in %d payloads, want the workflow and activity inputs", carried)
	}

	// The same payloads laid out as history: the scan finds nothing while
	// they are encrypted, and finds the canary once they are not.
	hist := &historypb.History{}
	for _, p := range rec.seen {
		hist.Events = append(hist.Events, &historypb.HistoryEvent{
			EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
			Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
				WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{
					Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{p}}}}})
	}
	if hits := ScanHistoryForSecret(hist, []byte(canary)); hits != nil {
		t.Fatalf("encrypted history flagged: %v", hits)
	}
}
