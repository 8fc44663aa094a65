package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Given `runbook worker` configured by the documented file with
// alertmanager: {addr, token_file},
// When Alertmanager posts a firing alert with
// http_config.authorization credentials (Authorization: Bearer <token>),
// Then the bridge on its own address starts the incident; without the token
// it answers 401; the metrics listener does not serve it.
func TestE2E_WorkerAlertmanagerBridgeOnItsOwnAddress(t *testing.T) {
	s := startExternalStack(t)
	for _, kv := range s.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	tokenFile := filepath.Join(s.home, "alertmanager-token")
	const token = "e2e-bridge-token-3f9a"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bridgeAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	appendConfig(t, s.config, fmt.Sprintf("metrics: {addr: %q}\nalertmanager: {addr: %q, token_file: %s, max_alerts: 20}\n", metricsAddr, bridgeAddr, tokenFile))
	worker := s.startWorker(t)
	if !strings.Contains(worker.out.String(), "alertmanager bridge on http://"+bridgeAddr) {
		t.Fatalf("worker output names no bridge:\n%s", worker.out.String())
	}
	acct, _ := s.exchange.demo.Find("binance")
	body := fmt.Sprintf(`{"version":"4","receiver":"keyresponse","status":"firing","alerts":[{"status":"firing",
		"labels":{"alertname":"KeyLeaked","kind":"key_leaked","bot":"bot-1","exchange":"binance","key_id":%q,"severity":"critical"},
		"startsAt":%q}]}`, acct.Bot.ID, time.Now().UTC().Format(time.RFC3339))
	post := func(url, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, out := post("http://"+metricsAddr+"/alertmanager", token); code == http.StatusOK {
		t.Fatalf("the metrics listener serves the bridge: %d %s", code, out)
	}
	if code, out := post("http://"+bridgeAddr+"/alertmanager", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s", code, out)
	}
	if code, out := post("http://"+bridgeAddr+"/alertmanager", token); code != http.StatusOK {
		t.Fatalf("with the token: %d %s", code, out)
	}
	id := "contain-key-breach:bot-1:" + acct.Bot.ID
	waitUntil(t, "the incident to start", func() bool {
		_, err := (cli{t: t, home: s.home}).stateWith(s.config, id)
		return err == nil
	})
	if strings.Contains(worker.out.String(), token) {
		t.Fatal("the bridge token appears in the worker's output")
	}
}

// A config that sets alertmanager.addr without authentication refuses to
// start the worker, naming the setting, before it connects anywhere.
func TestWorkerRefusesAnUnauthenticatedAlertmanagerBridge(t *testing.T) {
	home := t.TempDir()
	cfg := filepath.Join(home, "runbook.yaml")
	if err := os.WriteFile(cfg, []byte("alertmanager: {addr: \"0.0.0.0:7081\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := (cli{t: t, home: home}).run("--config", cfg, "worker")
	if r.code == 0 || !strings.Contains(r.stderr, "alertmanager.addr") || !strings.Contains(r.stderr, "token_file") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if r := (cli{t: t, home: home}).run("config", "check", cfg); r.code == 0 || !strings.Contains(r.stdout+r.stderr, "alertmanager.addr") {
		t.Fatalf("config check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func appendConfig(t *testing.T, file, more string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(more); err != nil {
		t.Fatal(err)
	}
}
