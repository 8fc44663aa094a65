package incident_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/keyresponse/runbook/activities"
	botactions "github.com/keyresponse/runbook/activities/bot"
	exact "github.com/keyresponse/runbook/activities/exchange"
	"github.com/keyresponse/runbook/activities/incident"
	"github.com/keyresponse/runbook/activities/notify"
	"github.com/keyresponse/runbook/events/ingest/temporalstart"
	ibot "github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/bottest"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/workflows"
	"github.com/keyresponse/runbook/workflows/workflowstest"
)

// The shipped fleet runbook, run by the real interpreter workflow in the
// SDK's test environment: bot.select, bot.freeze_many and
// incident.start_many are the real actions (over in-memory bots and a fake
// Starter); exchange.restrict_keys and notify.sms are recording fakes.

// memCtl drives a MemBot directly (the webhook transport is covered in
// activities/bot).
type memCtl struct{ b *bottest.MemBot }

func (c memCtl) Freeze(ctx context.Context, o ibot.FreezeOptions) (ibot.Status, error) {
	return c.b.Freeze(ctx, o.ForceExit)
}
func (c memCtl) Unfreeze(ctx context.Context) (ibot.Status, error) { return c.b.Unfreeze(ctx) }
func (c memCtl) Status(ctx context.Context) (ibot.Status, error)   { return c.b.Status(ctx) }
func (c memCtl) DeliverCredentials(ctx context.Context, cr ibot.Credentials) error {
	return c.b.Deliver(ctx, cr)
}
func (c memCtl) Reload(ctx context.Context) error { return c.b.Reload(ctx) }

// journal records every action run in order, through a registry hook.
type journal struct {
	mu     sync.Mutex
	events []string // "start:<step>" / "end:<step>"
	reqs   map[string][]runbooks.ActionRequest
}

func (j *journal) ActionStarted(_ context.Context, req runbooks.ActionRequest, _ int32) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, "start:"+req.StepID)
	j.reqs[req.StepID] = append(j.reqs[req.StepID], req)
}

func (j *journal) ActionFinished(_ context.Context, req runbooks.ActionRequest, _ int32, _ runbooks.ActionResult, _ error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, "end:"+req.StepID)
}

func (j *journal) at(event string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i, e := range j.events {
		if e == event {
			return i
		}
	}
	return -1
}

func (j *journal) params(step string) []map[string]any {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []map[string]any
	for _, r := range j.reqs[step] {
		out = append(out, r.Params)
	}
	return out
}

func fake(spec runbooks.ActionSpec, outputs func(p map[string]any) map[string]any) activities.Action {
	return activities.Typed(spec, func(_ context.Context, _ runbooks.ActionRequest, p map[string]any) (runbooks.ActionResult, error) {
		return runbooks.ActionResult{Outputs: outputs(p)}, nil
	})
}

type fleetWorld struct {
	bots    map[string]*bottest.MemBot
	starter *fakeStarter
	reg     *activities.Registry
	log     *journal
}

// newFleetWorld has n bots on prod-binance and one (other-1) on prod-okx.
func newFleetWorld(t *testing.T, n int) *fleetWorld {
	t.Helper()
	w := &fleetWorld{bots: map[string]*bottest.MemBot{}, starter: newFakeStarter(), log: &journal{reqs: map[string][]runbooks.ActionRequest{}}}
	account := map[string]string{"other-1": "prod-okx"}
	w.bots["other-1"] = bottest.New(0)
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("bot-%03d", i)
		w.bots[id] = bottest.New(1)
		account[id] = "prod-binance"
	}
	deps := botactions.Deps{
		Bots: func(id string) (ibot.Controller, error) {
			b, ok := w.bots[id]
			if !ok {
				return nil, ibot.Errorf(ibot.KindInvalid, id, "resolve", "no bot configured with this id")
			}
			return memCtl{b}, nil
		},
		Info: func(_ context.Context, id string) (botactions.Info, error) {
			acct, ok := account[id]
			if !ok {
				return botactions.Info{}, ibot.Errorf(ibot.KindInvalid, id, "info", "no bot configured with this id")
			}
			return botactions.Info{Account: acct, Exchange: "binance", SubAccount: id + "@example.com",
				IPs: []string{"10.0.0.7"}, EngineIPs: []string{"10.9.9.9"}, KeyID: "CUR-" + id}, nil
		},
		BotsOn: func(_ context.Context, acct string) ([]string, error) {
			var ids []string
			for id, a := range account {
				if a == acct {
					ids = append(ids, id)
				}
			}
			sort.Strings(ids)
			return ids, nil
		},
	}
	list := append(botactions.Actions(deps), incident.Actions(incident.Deps{Starter: w.starter})...)
	// The real exchange actions' specs (validation), with restrict_keys a
	// recording fake under its real spec: no exchange here.
	for _, a := range exact.Actions(exact.Deps{}) {
		if a.Spec().Name == "exchange.restrict_keys" {
			a = fake(a.Spec(), func(p map[string]any) map[string]any {
				return map[string]any{"done": len(p["targets"].([]any)), "failed": []any{}}
			})
		}
		list = append(list, a)
	}
	list = append(list, fake(notify.SMSSpec, func(map[string]any) map[string]any { return map[string]any{"sent_to": "+15550100"} }))
	reg, err := activities.NewRegistry(list...)
	if err != nil {
		t.Fatal(err)
	}
	reg.AddHook(w.log)
	w.reg = reg
	return w
}

func shipped(t *testing.T, name string, cat runbooks.Catalog) *runbooks.Runbook {
	t.Helper()
	sh, ok := runbooks.FindShipped(name)
	if !ok {
		t.Fatalf("%s is not shipped", name)
	}
	if ps := runbooks.Validate(sh.File, sh.Src, cat); len(ps) > 0 {
		t.Fatalf("%s:\n%s", sh.File, runbooks.Problems(ps).Error())
	}
	rb, _, err := runbooks.Parse(sh.File, sh.Src)
	if err != nil {
		t.Fatal(err)
	}
	return rb
}

// run executes a shipped runbook to completion in the test environment.
func (w *fleetWorld) run(t *testing.T, name, incidentID string, given map[string]any) workflows.IncidentState {
	t.Helper()
	rb := shipped(t, name, w.reg)
	inputs, err := runbooks.ResolveInputValues(rb, given)
	if err != nil {
		t.Fatal(err)
	}
	actions, err := temporalstart.ResolveActions(*rb, w.reg)
	if err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	ro := workflowstest.New(t)
	workflows.Register(env, ro.Live)
	w.reg.RegisterWith(env)
	in := workflows.IncidentInput{IncidentID: incidentID, Runbook: *rb,
		RunbookHash: "sha256:test", Inputs: inputs, Actions: actions, Trigger: "event", StartedBy: "test"}
	ro.Start(&in, env.Now())
	env.ExecuteWorkflow(workflows.IncidentWorkflowName, in)
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow: completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var st workflows.IncidentState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func stepStatus(st workflows.IncidentState) map[string]workflows.Status {
	out := map[string]workflows.Status{}
	for _, s := range st.Steps {
		out[s.ID] = s.Status
	}
	return out
}

func TestFleetRunbookContainsTheFleetThenStartsPerBotIncidents(t *testing.T) {
	w := newFleetWorld(t, 30)
	var targets []any
	for i := 1; i <= 30; i++ {
		tg := map[string]any{"bot": fmt.Sprintf("bot-%03d", i), "key_id": fmt.Sprintf("LEAK-%d", i)}
		if i == 1 {
			tg["severity"] = "critical"
			tg["incident_id"] = "contain-key-breach:bot-001:LEAK-1"
		}
		targets = append(targets, tg)
	}
	targets = append(targets, map[string]any{"bot": "ghost", "key_id": "LEAK-G"}) // unknown to the engine
	st := w.run(t, "contain-fleet-breach", fleetID, map[string]any{"exchange": "prod-binance", "targets": targets})

	if st.Status != workflows.StatusSucceeded {
		t.Fatalf("incident %s: %s", st.Status, st.Error)
	}
	for id, s := range stepStatus(st) {
		if s != workflows.StatusSucceeded {
			t.Errorf("step %s %s", id, s)
		}
	}
	// Order: select, then the three containment moves, then the hand-over,
	// then the summary.
	sel := w.log.at("end:select")
	for _, s := range []string{"lockout_all", "freeze_all", "page_oncall"} {
		if w.log.at("start:"+s) < sel || w.log.at("end:"+s) > w.log.at("start:remediate") {
			t.Errorf("%s is not between select and remediate: %v", s, w.log.events)
		}
	}
	if w.log.at("end:remediate") > w.log.at("start:summary") {
		t.Errorf("summary before remediate ended: %v", w.log.events)
	}

	// Every bot frozen once; other-1 (another account) untouched.
	for id, b := range w.bots {
		want := ibot.Frozen
		if id == "other-1" {
			want = ibot.Running
		}
		if b.State() != want {
			t.Errorf("%s is %s", id, b.State())
		}
	}
	// One lockout call for every leaked key, restricted to bot + engine IPs.
	lock := w.log.params("lockout_all")
	if len(lock) != 1 {
		t.Fatalf("%d lockout calls", len(lock))
	}
	keys := lock[0]["targets"].([]any)
	if len(keys) != 30 {
		t.Fatalf("lockout of %d keys, want 30", len(keys))
	}
	k := keys[4].(map[string]any)
	if k["exchange"] != "prod-binance" || k["sub_account"] != "bot-005@example.com" || k["key_id"] != "LEAK-5" ||
		fmt.Sprint(k["ips"]) != "[10.0.0.7 10.9.9.9]" || k["revoke"] != false {
		t.Errorf("lockout target %v", k)
	}

	// One page for the fleet, one summary.
	sms := append(w.log.params("page_oncall"), w.log.params("summary")...)
	if len(sms) != 2 {
		t.Fatalf("%d texts", len(sms))
	}
	if msg := sms[0]["message"].(string); !strings.HasPrefix(msg, "Fleet breach on prod-binance: 30 bots (1 unknown to the engine)") {
		t.Errorf("page: %q", msg)
	}
	if msg := sms[1]["message"].(string); !strings.Contains(msg, "keys locked: all; frozen: 30;") || !strings.Contains(msg, "31 started, 0 already running, 0 already closed") {
		t.Errorf("summary: %q", msg)
	}

	// Every target handed over, the unknown one too (its incident fails at
	// bot.info, on record).
	if len(w.starter.specs) != 31 {
		t.Fatalf("%d per-bot incidents started, want 31", len(w.starter.specs))
	}
	first := w.starter.specs["contain-key-breach:bot-001:LEAK-1"]
	if first.Inputs["severity"] != "critical" || first.Inputs["fleet"] != fleetID || first.StartedBy != "fleet:"+fleetID {
		t.Errorf("bot-001: %+v", first)
	}
	if s, ok := w.starter.specs["contain-key-breach:bot-017:LEAK-17"]; !ok || s.Inputs["severity"] != "high" || s.Inputs["key_id"] != "LEAK-17" {
		t.Errorf("bot-017: %+v", s)
	}
	if _, ok := w.starter.specs["contain-key-breach:ghost:LEAK-G"]; !ok {
		t.Error("the unknown bot got no incident")
	}
}

// An account-wide leak names no bots: the whole account is contained, each
// bot under its current key.
func TestFleetRunbookWithoutTargetsTakesTheWholeAccount(t *testing.T) {
	w := newFleetWorld(t, 5)
	st := w.run(t, "contain-fleet-breach", "contain-fleet-breach::prod-binance", map[string]any{"exchange": "prod-binance", "severity": "critical"})
	if st.Status != workflows.StatusSucceeded {
		t.Fatalf("incident %s: %s", st.Status, st.Error)
	}
	if len(w.starter.specs) != 5 || w.bots["other-1"].State() != ibot.Running {
		t.Fatalf("started %d incidents; other-1 %s", len(w.starter.specs), w.bots["other-1"].State())
	}
	s := w.starter.specs["contain-key-breach:bot-003:CUR-bot-003"]
	if s.Inputs["key_id"] != "CUR-bot-003" || s.Inputs["severity"] != "critical" {
		t.Errorf("bot-003: %+v", s)
	}
}

// The per-bot runbook started by a fleet sends no texts of its own; started
// alone it pages and sums up as before.
func TestContainKeyBreachSkipsItsTextsUnderAFleet(t *testing.T) {
	for _, c := range []struct {
		fleet string
		texts int
	}{{"", 2}, {fleetID, 0}} {
		w := newFleetWorld(t, 1)
		outs := map[string]map[string]any{
			"bot.info": {"account": "prod-binance", "exchange": "binance", "sub_account": "bot-001@example.com",
				"ips": []any{"10.0.0.7"}, "engine_ips": []any{"10.9.9.9"}, "key_id": "CUR", "credential_ref": "c@1",
				"secret_name": "c", "verify_from": ""},
			"exchange.create_key": {"key_id": "NEW", "secret_ref": "c@2"},
		}
		reg, err := activities.NewRegistry()
		if err != nil {
			t.Fatal(err)
		}
		for _, spec := range w.reg.Actions() {
			o := outs[spec.Name]
			if err := reg.Add(fake(spec, func(map[string]any) map[string]any { return o })); err != nil {
				t.Fatal(err)
			}
		}
		reg.AddHook(w.log)
		w.reg = reg
		st := w.run(t, "contain-key-breach", "contain-key-breach:bot-001:LEAK-1",
			map[string]any{"bot": "bot-001", "key_id": "LEAK-1", "fleet": c.fleet})
		if st.Status != workflows.StatusSucceeded {
			t.Fatalf("fleet %q: incident %s: %s", c.fleet, st.Status, st.Error)
		}
		texts := len(w.log.params("page_oncall")) + len(w.log.params("summary"))
		if texts != c.texts || len(w.log.params("restrict_leaked_key")) != 1 || len(w.log.params("new_key")) != 1 {
			t.Errorf("fleet %q: %d texts (want %d), steps %v", c.fleet, texts, c.texts, w.log.events)
		}
	}
}
