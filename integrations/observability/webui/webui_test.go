package webui

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// The UI serves its pages and API routes on a local port without any
// Temporal server behind it (the lead's e2e test of `runbook dev` covers
// the data); a taken port is an error, not the end of the process.
func TestStart_ServesTheUI(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	temporal := l.Addr().String()
	l.Close()

	s, err := Start(Options{TemporalAddress: temporal, Namespace: "runbook", Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	resp, err := http.Get(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(strings.ToLower(string(body)), "<!doctype html>") {
		t.Fatalf("GET / = %s %.80q, want the UI's HTML page", resp.Status, body)
	}
	resp, err = http.Get(s.URL() + "/api/v1/settings")
	if err != nil {
		t.Fatal(err)
	}
	settings, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(settings), `"DefaultNamespace":"runbook"`) {
		t.Fatalf("GET /api/v1/settings = %s %s", resp.Status, settings)
	}

	addr := strings.TrimPrefix(s.URL(), "http://")
	if _, err := Start(Options{TemporalAddress: temporal, Addr: addr}); err == nil {
		t.Fatal("a second UI on a taken port started")
	}
}
