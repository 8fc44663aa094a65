package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/audit"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/observability"
	"github.com/keyresponse/runbook/workflows"
)

// Given `runbook dev`'s whole embedded stack — the demo freqtrade bot
// trading on the simulated Binance from 127.0.0.10 with a sloppy key (trade
// + withdraw, no whitelist), and an attacker trading with that leaked key
// from 127.0.0.66,
// When monitoring publishes a signed key_leaked event for the bot,
// Then the shipped contain-key-breach runbook locks the attacker out (old
// key and, from its IP, the new key refused), the bot trades again with a
// new trade-only whitelisted key, on-call gets the SMS, the audit trail is
// complete and verifies — and neither the old nor the new secret appears
// anywhere outside the secret store: not in the Temporal history (read raw,
// without the codec), the NATS streams, the logs or the CLI output.
func TestE2E_BreachContainedEndToEnd(t *testing.T) {
	home := recordingHome(t)
	console := &lockedBuffer{}
	g := &globals{}
	books, err := g.triggerBooks()
	if err != nil {
		t.Fatal(err)
	}
	stack, err := startDevStack(context.Background(), devOptions{home: home, taskQueue: "runbook", console: console, identity: "e2e", books: books})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.stop()
	c := cli{t: t, home: home, temporal: stack.temporal.HostPort()}
	withNATS := func(args ...string) cliResult {
		return c.run(append([]string{"--nats-url", stack.nats.URL()}, args...)...)
	}
	sim, bot := stack.exchange.sim, stack.demoBot.sim
	acct, _ := stack.exchange.demo.Find("binance")
	oldKey := acct.Bot

	// Given: the bot trades; the attacker has its key.
	waitUntil(t, "the demo bot trades with its first key", func() bool {
		return bot.LoadedAPIKey() == oldKey.ID && len(sim.Calls(exchangesim.CallFilter{Exchange: "binance", Op: "place_order", ClientIP: demoBotIP, OnlyOK: true})) > 0
	})
	adapter, _ := xchg.Open(xchg.Config{Exchange: "binance", BaseURL: acct.BaseURL})
	traderOf := func(k exchangesim.Key, ip string) xchg.Trader {
		return adapter.(xchg.TraderProvider).Trader(xchg.Credential{APIKey: k.ID, Secret: k.Secret}, ip)
	}
	attacker := traderOf(oldKey, "127.0.0.66")
	if _, err := attacker.PlaceOrder(context.Background(), "BTC/USDT", "buy", 0.001, 1000); err != nil {
		t.Fatalf("before the breach is contained the attacker trades: %v", err)
	}

	// When
	send := withNATS("event", "send", "--bot", "bot-1", "--kind", "key_leaked", "--exchange", "binance", "--key-id", oldKey.ID, "--severity", "high")
	if send.code != 0 {
		t.Fatalf("event send: %d %s", send.code, send.stderr)
	}
	id := "contain-key-breach:bot-1:" + oldKey.ID
	final := c.waitFor(id, "the end of the incident", func(st workflows.IncidentState) bool { return st.EndedAt != nil })

	// Then: the runbook succeeded step by step.
	if final.Status != workflows.StatusSucceeded {
		t.Fatalf("incident ended %s: %s", final.Status, summary(final))
	}
	for _, step := range []string{"info", "restrict_leaked_key", "freeze", "cancel_orders", "page_oncall", "new_key", "deliver", "revoke_old", "verify", "unfreeze", "summary"} {
		if got := stepByID(final, step).Status; got != workflows.StatusSucceeded {
			t.Errorf("step %s: %s (%s)", step, got, stepByID(final, step).Error)
		}
	}
	for _, step := range []string{"revoke_leaked_key_now", "approve_unfreeze"} {
		if got := stepByID(final, step).Status; got != workflows.StatusSkipped {
			t.Errorf("step %s: %s, want skipped", step, got)
		}
	}
	// The attacker is locked out.
	if _, err := attacker.PlaceOrder(context.Background(), "BTC/USDT", "buy", 0.001, 1000); err == nil {
		t.Error("the attacker still trades with the leaked key")
	}
	newKeyID, _ := stepByID(final, "new_key").Outputs["key_id"].(string)
	newKey, ok := sim.Key("binance", newKeyID)
	if !ok {
		t.Fatalf("new key %q not on the exchange", newKeyID)
	}
	if newKey.Perms.Withdraw || !newKey.Perms.Trade || len(newKey.IPs) != 1 || newKey.IPs[0] != demoBotIP {
		t.Errorf("new key %+v: want trade only, whitelisted to %s", newKey.Public(), demoBotIP)
	}
	if _, err := traderOf(newKey, "127.0.0.66").PlaceOrder(context.Background(), "BTC/USDT", "buy", 0.001, 1000); err == nil {
		t.Error("the attacker's IP can use the new key")
	}
	if k, _ := sim.Key("binance", oldKey.ID); !k.Revoked {
		t.Error("the old key is not revoked")
	}
	// The bot trades again, with the new key.
	if bot.LoadedAPIKey() != newKeyID || bot.State() != "running" {
		t.Errorf("bot has key %s in state %s; want %s running", bot.LoadedAPIKey(), bot.State(), newKeyID)
	}
	waitUntil(t, "the bot trades with its new key", func() bool {
		return len(sim.Calls(exchangesim.CallFilter{Exchange: "binance", Op: "place_order", KeyID: newKeyID, ClientIP: demoBotIP, OnlyOK: true})) > 0
	})
	// On-call got the texts.
	msgs := stack.sms.sim.Messages()
	if len(msgs) < 2 {
		t.Errorf("SMS sink got %d messages, want the page and the summary", len(msgs))
	}
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m.Body)
	}
	if all := strings.Join(texts, "\n"); !strings.Contains(all, "bot-1") || !strings.Contains(all, "trading again") {
		t.Errorf("SMS texts do not tell what happened:\n%s", all)
	}
	// The audit trail is complete and verifies.
	var recs []audit.Record
	waitUntil(t, "the audit trail closes", func() bool {
		recs, _ = audit.Load(context.Background(), stack.events.js, id)
		return audit.Project(recs).ClosedAt != nil
	})
	if err := audit.Verify(recs); err != nil {
		t.Errorf("audit chain: %v", err)
	}
	view := audit.Project(recs)
	if view.ContainedAt == nil || len(view.KeysChanged) < 3 || len(view.Notifications) < 2 || view.TriggerEventID == "" {
		t.Errorf("audit view incomplete: contained %v, %d key changes, %d notifications, trigger %q",
			view.ContainedAt, len(view.KeysChanged), len(view.Notifications), view.TriggerEventID)
	}
	// status and list show the audit projection too.
	if st := withNATS("status", id); !strings.Contains(st.stdout, "chain links intact") || !strings.Contains(st.stdout, "contained ") {
		t.Errorf("status lacks the audit summary:\n%s", st.stdout)
	}
	if l := withNATS("list"); !strings.Contains(l.stdout, "AUDIT (rebuilt") || !strings.Contains(l.stdout, "contained in") {
		t.Errorf("list lacks the audit projection:\n%s", l.stdout)
	}
	// An exported copy verifies; altering, removing or inserting a record is
	// caught and the record named.
	auditTampering(t, withNATS, id, home)

	report := withNATS("report", id, "--format", "md")
	if report.code != 0 || !strings.Contains(report.stdout, "Time to contain") {
		t.Errorf("report: exit %d\n%s%s", report.code, report.stdout, report.stderr)
	}

	recordHistory(t, stack, id, "contain-key-breach")

	// The event's trace context reached the workflow's start header (the
	// Temporal OpenTelemetry interceptor parents every span on it).
	started := fetchHistory(t, stack, id).GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
	if _, ok := started.GetHeader().GetFields()[observability.TemporalHeaderKey]; !ok {
		t.Errorf("the incident's start carries no trace context (header fields %v)", started.GetHeader().GetFields())
	}

	// The metrics endpoint shows the incident, its time to contain and the
	// per-action step counts.
	metrics := httpGet(t, stack.http.URL()+"/metrics")
	for _, want := range []string{
		`runbook_incidents_closed_total{outcome="succeeded",runbook="contain-key-breach"} 1`,
		`runbook_incident_time_to_contain_seconds_count{runbook="contain-key-breach"} 1`,
		`runbook_step_duration_seconds_count{action="exchange.create_key",outcome="success"}`,
		`runbook_step_duration_seconds_count{action="bot.freeze",outcome="success"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The canary: no secret outside the secret store.
	cliOut := send.stdout + send.stderr + report.stdout + report.stderr
	for _, r := range []cliResult{c.run("status", id), c.run("status", id, "-o", "json"), withNATS("audit", id), withNATS("audit", id, "-o", "json")} {
		cliOut += r.stdout + r.stderr
	}
	tlog, _ := os.ReadFile(filepath.Join(home, "temporal.log"))
	places := map[string][]byte{
		"Temporal history (raw, not decoded)": historyBytes(t, fetchHistory(t, stack, id)),
		"NATS streams":                        allStreamBytes(t, stack.events.js),
		"worker console and logs":             []byte(console.String()),
		"Temporal server log":                 tlog,
		"CLI output":                          []byte(cliOut),
	}
	for name, secret := range map[string]string{"old key secret": oldKey.Secret, "new key secret": newKey.Secret} {
		for where, data := range places {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("the %s appears in the %s", name, where)
			}
		}
	}
	// Sanity: the scan sees real content (the key ids are there, not secret).
	if !bytes.Contains(places["NATS streams"], []byte(id)) && !bytes.Contains(places["NATS streams"], []byte("bot-1")) {
		t.Error("the NATS scan read nothing: the canary check would be vacuous")
	}
}

// allStreamBytes concatenates every message (subject, headers, data) of
// every stream, KV buckets included.
func allStreamBytes(t *testing.T, js jetstream.JetStream) []byte {
	t.Helper()
	ctx := context.Background()
	var buf bytes.Buffer
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := s.Info(ctx)
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				continue // deleted
			}
			buf.WriteString(m.Subject)
			for k, vs := range m.Header {
				buf.WriteString(k + strings.Join(vs, ","))
			}
			buf.Write(m.Data)
		}
	}
	return buf.Bytes()
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting until %s", what)
}

// auditTampering exports the incident's trail, then checks `audit verify
// --file` on the copy as it is and with one record altered, removed or
// inserted.
func auditTampering(t *testing.T, run func(...string) cliResult, id, dir string) {
	t.Helper()
	orig := filepath.Join(dir, "audit.jsonl")
	if r := run("audit", "export", id, "--out", orig); r.code != 0 {
		t.Fatalf("audit export: %s", r.stderr)
	}
	if r := run("audit", "verify", id, "--file", orig); r.code != 0 {
		t.Fatalf("verify of an untouched copy failed: %s", r.stderr)
	}
	b, _ := os.ReadFile(orig)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 6 {
		t.Fatalf("only %d audit records", len(lines))
	}
	cases := map[string][]string{
		"altered":  append(append(append([]string{}, lines[:3]...), strings.Replace(lines[3], `"attempt":"1"`, `"attempt":"2"`, 1)), lines[4:]...),
		"removed":  append(append([]string{}, lines[:3]...), lines[4:]...),
		"inserted": append(append(append([]string{}, lines[:3]...), lines[2]), lines[3:]...),
	}
	if cases["altered"][3] == lines[3] {
		cases["altered"][3] = strings.Replace(lines[3], `"step"`, `"stepp"`, 1)
	}
	for problem, tampered := range cases {
		f := filepath.Join(dir, problem+".jsonl")
		if err := os.WriteFile(f, []byte(strings.Join(tampered, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := run("audit", "verify", id, "--file", f)
		if r.code == 0 {
			t.Errorf("verify accepted a copy with a record %s", problem)
			continue
		}
		t.Logf("%s copy: %s", problem, strings.TrimSpace(r.stderr))
		if !strings.Contains(r.stderr, "record #") || !strings.Contains(r.stderr, problem) {
			t.Errorf("%s: verify does not name the record: %s", problem, r.stderr)
		}
	}
}
