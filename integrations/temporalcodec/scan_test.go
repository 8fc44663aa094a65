package temporalcodec

import (
	"encoding/json"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
)

func TestScanFindsTheSecretAnywhere(t *testing.T) {
	secret := []byte("s3cr3t-canary-value")
	jsonBytes, _ := json.Marshal(struct{ B []byte }{secret}) // []byte → base64
	plain, _ := converter.GetDefaultDataConverter().ToPayload("key is " + string(secret))
	cases := map[string]struct {
		ev   *historypb.HistoryEvent
		want string
	}{
		"plain input payload": {&historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{
				Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{plain}}}}},
			"events[0].workflow_execution_started_event_attributes.input.payloads[0].data (raw)"},
		"base64 inside json": {&historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_ActivityTaskCompletedEventAttributes{
			ActivityTaskCompletedEventAttributes: &historypb.ActivityTaskCompletedEventAttributes{
				Result: &commonpb.Payloads{Payloads: []*commonpb.Payload{{Data: jsonBytes}}}}}},
			"result.payloads[0].data (base64)"},
		"failure message": {&historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_ActivityTaskFailedEventAttributes{
			ActivityTaskFailedEventAttributes: &historypb.ActivityTaskFailedEventAttributes{
				Failure: &failurepb.Failure{Message: "login failed with " + string(secret)}}}},
			"failure.message (raw)"},
		"memo map value": {&historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{
				Memo: &commonpb.Memo{Fields: map[string]*commonpb.Payload{"note": plain}}}}},
			`memo.fields["note"].data (raw)`},
		"identity": {&historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{
				Identity: "worker@" + string(secret)}}},
			"identity (raw)"},
	}
	for name, c := range cases {
		hits := ScanHistoryForSecret(&historypb.History{Events: []*historypb.HistoryEvent{c.ev}}, secret)
		if len(hits) == 0 || !strings.Contains(strings.Join(hits, "\n"), c.want) {
			t.Errorf("%s: hits %v, want one ending %q", name, hits, c.want)
		}
	}
	clean := &historypb.History{Events: []*historypb.HistoryEvent{{Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
		WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Identity: "worker-1"}}}}}
	if hits := ScanHistoryForSecret(clean, secret); hits != nil {
		t.Fatalf("clean history: %v", hits)
	}
}

func TestFindSecretEncodings(t *testing.T) {
	secret := []byte("s3cr3t-canary-value")
	b64, _ := json.Marshal(secret)
	if got := FindSecret(b64, secret); len(got) != 1 || got[0] != "base64" {
		t.Fatalf("json []byte: %v", got)
	}
	if got := FindSecret([]byte("log line s3cr3t-canary-value end"), secret); len(got) != 1 || got[0] != "raw" {
		t.Fatalf("raw: %v", got)
	}
	if got := FindSecret([]byte("nothing here"), secret); got != nil {
		t.Fatalf("clean: %v", got)
	}
}
