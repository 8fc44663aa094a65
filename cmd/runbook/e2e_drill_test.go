package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/audit"
	ibot "github.com/keyresponse/runbook/integrations/bot"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/workflows"
)

// drillReport runs `drill report BOT --output json`.
func (c cli) drillReport(bot string) []drillRow {
	c.t.Helper()
	r := c.run("drill", "report", bot, "--output", "json")
	if r.code != 0 {
		c.t.Fatalf("drill report: exit %d: %s", r.code, r.stderr)
	}
	var rows []drillRow
	mustUnmarshal(c.t, r.stdout, &rows)
	return rows
}

// waitDrill polls `drill report` until a drill of the bot has ended.
func (c cli) waitDrill(bot string) drillRow {
	c.t.Helper()
	return c.waitDrillWhere(bot, func(drillRow) bool { return true })
}

// waitDrillWhere polls `drill report` until an ended drill satisfies ok.
func (c cli) waitDrillWhere(bot string, ok func(drillRow) bool) drillRow {
	c.t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	var rows []drillRow
	for time.Now().Before(deadline) {
		rows = c.drillReport(bot)
		for _, r := range rows {
			if r.Result != "" && ok(r) {
				return r
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	c.t.Fatalf("no drill of %s ended within the deadline; report: %+v", bot, rows)
	return drillRow{}
}

func hasFinding(fs []workflows.DrillFinding, keyID, finding string) bool {
	return slices.ContainsFunc(fs, func(f workflows.DrillFinding) bool { return f.KeyID == keyID && f.Finding == finding })
}

// Given the dev stack with the demo bot trading on Binance with its sloppy
// key (trade + withdraw, no whitelist),
// When on-call schedules a rotate drill for bot-1 every 5 seconds and waits,
// Then Temporal's schedule starts the drill on its own; the simulator shows
// the old key revoked and one live trade-only key whitelisted to the bot's
// IP, which the bot trades with; `drill report` shows the drill passed with
// its rotation duration and the old key's hygiene findings, which are in
// the audit trail; and once paused, the schedule starts no further drill.
func TestE2E_ScheduledRotationDrill(t *testing.T) {
	home := t.TempDir()
	stack, err := startDevStack(context.Background(), devOptions{home: home, taskQueue: "runbook", console: io.Discard, identity: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.stop()
	c := cli{t: t, home: home, temporal: stack.temporal.HostPort()}
	sim := stack.exchange.sim
	demo, _ := stack.exchange.demo.Find("binance")
	old := demo.Bot
	if got := stack.demoBot.sim.LoadedAPIKey(); got != old.ID {
		t.Fatalf("given: the demo bot trades with %q, want the demo key", got)
	}

	// Given a real incident of bot-1 open (waiting at an approval gate), a
	// drill triggered now is skipped and rotates nothing.
	if r := c.run("exec", "demo-approval", "--input", "bot=bot-1"); r.code != 0 {
		t.Fatalf("exec demo-approval: %s%s", r.stdout, r.stderr)
	}
	c.waitFor("demo-approval:bot-1", "the approval gate", func(st workflows.IncidentState) bool { return st.Status == workflows.StatusWaiting })
	r := c.run("drill", "schedule", "--bot", "bot-1", "--runbook", "rotate-keys", "--every", "5s", "--paused")
	if r.code != 0 {
		t.Fatalf("drill schedule: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	id := workflows.DrillScheduleID("rotate-keys", "bot-1")
	// The schedule list comes from visibility, which lags a moment.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		l := c.run("drill", "list")
		if l.code == 0 && strings.Contains(l.stdout, id) && strings.Contains(l.stdout, "paused") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("drill list does not show %s paused: %s%s", id, l.stdout, l.stderr)
		}
	}
	if tr := c.run("drill", "trigger", id); tr.code != 0 {
		t.Fatalf("drill trigger: %s%s", tr.stdout, tr.stderr)
	}
	skipped := c.waitDrill("bot-1")
	if skipped.Result != workflows.DrillSkipped || !strings.Contains(skipped.Reason, "demo-approval:bot-1") {
		t.Fatalf("drill during an open incident: %s (%s), want skipped naming the incident", skipped.Result, skipped.Reason)
	}
	if k, _ := sim.Key("binance", old.ID); k.Revoked {
		t.Fatal("a skipped drill revoked the bot's key")
	}
	if r := c.run("abort", "demo-approval:bot-1"); r.code != 0 {
		t.Fatalf("abort: %s%s", r.stdout, r.stderr)
	}
	c.waitFor("demo-approval:bot-1", "the abort", func(st workflows.IncidentState) bool { return st.Status == workflows.StatusAborted })

	// When the schedule runs on its own
	if u := c.run("drill", "unpause", id); u.code != 0 {
		t.Fatalf("drill unpause: %s%s", u.stdout, u.stderr)
	}

	// Then: the schedule fired by itself and the drill passed.
	d := c.waitDrillWhere("bot-1", func(r drillRow) bool { return r.Result != workflows.DrillSkipped })
	if d.Result != workflows.DrillPassed {
		t.Fatalf("drill %s: %s (%s)", d.DrillID, d.Result, d.Reason)
	}
	if !strings.HasPrefix(d.DrillID, id+"-") || d.Mode != workflows.DrillModeRotate || d.Child != "rotate-keys:bot-1" {
		t.Errorf("drill %s mode %s child %s: not a scheduled rotate drill", d.DrillID, d.Mode, d.Child)
	}
	if d.RotationDuration <= 0 || d.TimeToContain != 0 {
		t.Errorf("want a rotation duration and no time to contain (nothing was breached): %+v", d.DrillResult)
	}
	for _, f := range []string{"withdraw_enabled", "no_ip_whitelist"} {
		if !hasFinding(d.Findings, old.ID, f) {
			t.Errorf("finding %s on the old key missing: %+v", f, d.Findings)
		}
	}
	// Pause first so that the key checks do not race the next drill.
	if p := c.run("drill", "pause", id); p.code != 0 {
		t.Fatalf("drill pause: %s%s", p.stdout, p.stderr)
	}
	h := stack.client.ScheduleClient().GetHandle(context.Background(), id)
	before, err := h.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !before.Schedule.State.Paused {
		t.Fatal("schedule not paused")
	}
	settled := time.Now().Add(120 * time.Second)
	for {
		desc, err := h.Describe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(desc.Info.RunningWorkflows) == 0 {
			break
		}
		if time.Now().After(settled) {
			t.Fatalf("drills still running: %v", desc.Info.RunningWorkflows)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if k, _ := sim.Key("binance", old.ID); !k.Revoked {
		t.Error("the old key is not revoked")
	}
	live := sim.Keys("binance", demo.Sub.ID, false)
	if len(live) != 1 || live[0].Perms.Withdraw || !live[0].Perms.Trade || !slices.Equal(live[0].IPs, []string{demoBotIP}) {
		t.Fatalf("live keys on the bot's sub-account %+v, want one trade-only key whitelisted to %s", live, demoBotIP)
	}
	if got := stack.demoBot.sim.LoadedAPIKey(); got != live[0].ID {
		t.Errorf("the bot trades with %q, want the new key %q", got, live[0].ID)
	}
	text := c.run("drill", "report", "bot-1")
	if !strings.Contains(text.stdout, "PASSED") || !strings.Contains(text.stdout, "rotation ") {
		t.Errorf("drill report text: %s", text.stdout)
	}
	// The same figures on /metrics.
	waitUntil(t, "the drill's metrics", func() bool {
		m := httpGet(t, stack.http.URL()+"/metrics")
		return strings.Contains(m, `runbook_drills_total{mode="rotate",result="passed"}`) &&
			strings.Contains(m, `runbook_drill_rotation_duration_seconds_count{runbook="rotate-keys"}`) &&
			strings.Contains(m, `runbook_drill_findings_total{finding=`)
	})
	recs, err := audit.Load(context.Background(), stack.events.js, d.DrillID)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[audit.Kind]int{}
	for _, rec := range recs {
		kinds[rec.Kind]++
	}
	if kinds[audit.DrillFinding] < 2 || kinds[audit.DrillResult] != 1 || kinds[audit.IncidentOpened] != 1 || kinds[audit.IncidentClosed] != 1 {
		t.Errorf("audit trail of %s: %v", d.DrillID, kinds)
	}

	// Then no further drill starts while paused, over a few intervals.
	before, err = h.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(12 * time.Second)
	after, err := h.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if after.Info.NumActions != before.Info.NumActions {
		t.Errorf("paused schedule started %d more drills", after.Info.NumActions-before.Info.NumActions)
	}
	if u := c.run("drill", "delete", id); u.code != 0 {
		t.Errorf("drill delete: %s%s", u.stdout, u.stderr)
	}
}

// Given a bot whose configured exchange account points at an address where
// no exchange answers (http://127.0.0.1:1),
// When a rehearse drill runs for it (triggered through its schedule),
// Then the drill passes: containment ran end to end on the simulator's
// mirror of the bot (assumed worst-case settings, since the real key could
// not be read), the mirror key was revoked and replaced by a trade-only
// whitelisted key, the time to contain is reported, and the hygiene check
// reports that the real keys could not be listed.
func TestE2E_RehearsalNeverTouchesProduction(t *testing.T) {
	home := t.TempDir()
	prod := map[string]xchg.Config{"prod-binance": {Exchange: "binance", BaseURL: "http://127.0.0.1:1", ManagementKeyRef: "prod/management"}}
	bots := botSetup{
		controllers: []ibot.BotConfig{{ID: "bot-9", Kind: ibot.KindFreqtrade, URL: "http://127.0.0.1:1", Username: "freqtrader", PasswordRef: "bots/bot-9/pw",
			Exchange: "binance", Account: "prod-binance"}},
		facts: map[string]botFacts{"bot-9": {account: "prod-binance", subAccount: "bot-9@example.com", ips: []string{demoBotIP},
			engineIPs: []string{demoEngineIP}, keyID: "PRODKEY9", verifyFrom: demoBotIP}},
	}
	stack, err := startDevStack(context.Background(), devOptions{home: home, taskQueue: "runbook", console: os.Stderr, identity: "e2e",
		bots: bots, exchanges: prod})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.stop()
	c := cli{t: t, home: home, temporal: stack.temporal.HostPort()}
	// The management credential exists, so reads would be attempted for real.
	if _, err := stack.secrets.Put(context.Background(), "prod/management", []byte(`{"api_key":"k","secret":"s"}`), nil); err != nil {
		t.Fatal(err)
	}

	r := c.run("drill", "schedule", "--bot", "bot-9", "--mode", "rehearse", "--every", "24h", "--paused")
	if r.code != 0 {
		t.Fatalf("drill schedule: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	id := workflows.DrillScheduleID("contain-key-breach", "bot-9")
	if tr := c.run("drill", "trigger", id); tr.code != 0 {
		t.Fatalf("drill trigger: %s%s", tr.stdout, tr.stderr)
	}
	d := c.waitDrill("bot-9")
	if d.Result != workflows.DrillPassed {
		st, _ := c.state("rehearsal:contain-key-breach:bot-9")
		t.Fatalf("rehearsal %s: %s (%s)\nchild: %s", d.DrillID, d.Result, d.Reason, summary(st))
	}
	if d.Rehearsal == nil || d.Rehearsal.Bot != "rehearsal-bot-9" || !strings.HasPrefix(d.Rehearsal.Source, "assumed") {
		t.Fatalf("rehearsal %+v: want the mirror bot with assumed settings", d.Rehearsal)
	}
	if d.TimeToContain <= 0 {
		t.Errorf("no time to contain: %+v", d.DrillResult)
	}
	if !hasFinding(d.Findings, "", workflows.FindingAuditUnavailable) {
		t.Errorf("findings %+v: want audit_unavailable", d.Findings)
	}
	// The runbook's exchange steps all ran against the simulator's mirror.
	st, err := c.state(d.Child)
	if err != nil {
		t.Fatal(err)
	}
	if info := stepByID(st, "info"); info.Outputs["account"] != "drill-sim-binance" {
		t.Errorf("rehearsal ran on account %v, want drill-sim-binance", info.Outputs["account"])
	}
	mirror, ok := sim(stack).Key("binance", d.Rehearsal.MirrorKeyID)
	if !ok || !mirror.Revoked {
		t.Errorf("the mirror key was not revoked by the rehearsal: %+v", mirror.Public())
	}
	live := sim(stack).Keys("binance", mirror.Account, false)
	if len(live) != 1 || live[0].Perms.Withdraw || !slices.Equal(live[0].IPs, []string{demoBotIP}) {
		t.Errorf("live mirror keys %+v, want one trade-only key whitelisted to %s", live, demoBotIP)
	}
	// Real incidents of the bot are not blocked by the rehearsal's id.
	if incidentBot(d.Child) == "bot-9" {
		t.Errorf("rehearsal child %s would count as a real incident of bot-9", d.Child)
	}

	// A drill that fails (a bot the engine does not know) texts on-call
	// and leaves its audit trail closed as failed.
	if r := c.run("drill", "schedule", "--bot", "ghost", "--every", "24h", "--paused"); r.code != 0 {
		t.Fatalf("drill schedule ghost: %s%s", r.stdout, r.stderr)
	}
	if tr := c.run("drill", "trigger", workflows.DrillScheduleID("rotate-keys", "ghost")); tr.code != 0 {
		t.Fatalf("drill trigger ghost: %s%s", tr.stdout, tr.stderr)
	}
	g := c.waitDrill("ghost")
	if g.Result != workflows.DrillFailed || !g.Notified {
		t.Errorf("ghost drill: %s notified=%v (%s), want failed and texted", g.Result, g.Notified, g.Reason)
	}
	texted := false
	for _, m := range stack.sms.sim.Messages() {
		texted = texted || strings.Contains(m.Body, "ghost") && strings.Contains(m.Body, "FAILED")
	}
	if !texted {
		t.Errorf("no SMS about the failed drill: %+v", stack.sms.sim.Messages())
	}
	recs, err := audit.Load(context.Background(), stack.events.js, g.DrillID)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	for _, rec := range recs {
		closed = closed || rec.Kind == audit.IncidentClosed && rec.Attrs["status"] == "failed"
	}
	if !closed {
		t.Errorf("audit trail of %s has no failed close: %+v", g.DrillID, recs)
	}

	b, _ := json.Marshal(d)
	if strings.Contains(string(b), "\"secret\"") {
		t.Error("a secret field in the drill result")
	}
}

func sim(s *devStack) *exchangesim.Sim { return s.exchange.sim }
