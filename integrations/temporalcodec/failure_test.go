package temporalcodec

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/temporal"
)

func TestFailureMessagesAreEncrypted(t *testing.T) {
	kr, _ := NewKeyring("k1", map[string][]byte{"k1": newKey(t)})
	fc := FailureConverter(kr)
	err := temporal.NewApplicationError("login refused for secret "+canary, "AuthenticationError")
	f := fc.ErrorToFailure(err)
	if strings.Contains(f.GetMessage(), canary) || strings.Contains(f.GetStackTrace(), canary) {
		t.Fatalf("failure message in clear: %q", f.GetMessage())
	}
	ea := f.GetEncodedAttributes()
	if ea == nil || string(ea.Metadata[MetadataKeyID]) != "k1" || bytes.Contains(ea.Data, []byte(canary)) {
		t.Fatalf("encoded attributes = %v", ea)
	}
	hist := &historypb.History{Events: []*historypb.HistoryEvent{{Attributes: &historypb.HistoryEvent_ActivityTaskFailedEventAttributes{
		ActivityTaskFailedEventAttributes: &historypb.ActivityTaskFailedEventAttributes{Failure: f}}}}}
	if hits := ScanHistoryForSecret(hist, []byte(canary)); hits != nil {
		t.Fatalf("scan found %v", hits)
	}
	// The worker with the key gets the message and type back.
	back := fc.FailureToError(f)
	var ae *temporal.ApplicationError
	if !errors.As(back, &ae) || !strings.Contains(ae.Error(), canary) || ae.Type() != "AuthenticationError" {
		t.Fatalf("decoded error = %v", back)
	}
}
