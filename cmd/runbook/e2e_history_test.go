package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// fetchHistory reads a finished incident's whole event history.
func fetchHistory(t *testing.T, stack *devStack, id string) *historypb.History {
	t.Helper()
	it := stack.client.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		h.Events = append(h.Events, ev)
	}
	return h
}

// recordingHome prepares a dev home for a test that records histories:
// with RECORD_HISTORIES=1 the stack encrypts payloads with the test-only key
// the replay test decrypts them with.
func recordingHome(t *testing.T) string {
	home := t.TempDir()
	if os.Getenv("RECORD_HISTORIES") == "1" {
		b, err := os.ReadFile(filepath.Join(recordDir, "payload-keys"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(payloadKeyFile(home), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

var recordDir = filepath.Join("..", "..", "workflows", "testdata", "histories", "encrypted")

// recordHistory writes the history for workflows/replay_encrypted_test.go
// when RECORD_HISTORIES=1, so a non-deterministic change to the
// interpreter fails CI against real recorded runs of the shipped runbooks.
func recordHistory(t *testing.T, stack *devStack, id, name string) {
	if os.Getenv("RECORD_HISTORIES") != "1" {
		return
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(fetchHistory(t, stack, id))
	if err != nil {
		t.Fatal(err)
	}
	dir := recordDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded history of %s to %s", id, dir)
}

// historyBytes is the history's wire encoding: payloads appear there as the
// raw bytes the server stores (protojson would base64 them and hide a leak).
func historyBytes(t *testing.T, h *historypb.History) []byte {
	t.Helper()
	b, err := proto.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustUnmarshal(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
