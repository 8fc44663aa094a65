package bot_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/keyresponse/runbook/activities"
	botactions "github.com/keyresponse/runbook/activities/bot"
	ibot "github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/bottest"
	"github.com/keyresponse/runbook/integrations/bot/webhook"
	"github.com/keyresponse/runbook/runbooks"
)

// webFleet is n in-memory bots behind signed webhook receivers on one
// loopback HTTP server, as in cmd/runbook's bench fleet: every freeze is a
// real signed HTTP call the bot checks and answers.
type webFleet struct {
	bots     map[string]*bottest.MemBot
	ctls     map[string]ibot.Controller
	down     sync.Map // bot id -> true: answers 503
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	reg      *activities.Registry
}

func newWebFleet(t testing.TB, n int) *webFleet {
	t.Helper()
	f := &webFleet{bots: map[string]*bottest.MemBot{}, ctls: map[string]ibot.Controller{}}
	recv := map[string]http.Handler{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("bot-%03d", i)
		key := []byte(fmt.Sprintf("signing-key-of-%s-0123456789", id))
		f.bots[id] = bottest.New(1)
		recv[id] = webhook.NewReceiver(id, key, f.bots[id])
		c, err := webhook.New(webhook.Options{BotID: id, URL: base + "/bots/" + id, SigningKey: key, Exchange: "binance"})
		if err != nil {
			t.Fatal(err)
		}
		f.ctls[id] = c
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/bots/{id}", func(w http.ResponseWriter, r *http.Request) {
		now := f.inFlight.Add(1)
		defer f.inFlight.Add(-1)
		for {
			seen := f.maxSeen.Load()
			if now <= seen || f.maxSeen.CompareAndSwap(seen, now) {
				break
			}
		}
		id := r.PathValue("id")
		if _, down := f.down.Load(id); down {
			http.Error(w, `{"error":"maintenance"}`, http.StatusServiceUnavailable)
			return
		}
		recv[id].ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	deps := botactions.Deps{
		Bots: func(id string) (ibot.Controller, error) {
			c, ok := f.ctls[id]
			if !ok {
				return nil, ibot.Errorf(ibot.KindInvalid, id, "resolve", "no bot configured with this id")
			}
			return c, nil
		},
		Info: func(_ context.Context, id string) (botactions.Info, error) {
			if _, ok := f.ctls[id]; !ok {
				return botactions.Info{}, ibot.Errorf(ibot.KindInvalid, id, "info", "no bot configured with this id")
			}
			return botactions.Info{Account: "prod-binance", Exchange: "binance", SubAccount: id + "@example.com",
				IPs: []string{"10.0.0.7"}, EngineIPs: []string{"10.9.9.9"}, KeyID: "CUR-" + id, CredentialRef: "binance/" + id + "@1"}, nil
		},
		BotsOn: func(_ context.Context, account string) ([]string, error) {
			if account != "prod-binance" {
				return nil, nil
			}
			ids := make([]string, 0, len(f.ctls))
			for id := range f.ctls {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			return ids, nil
		},
	}
	if f.reg, err = activities.NewRegistry(botactions.Actions(deps)...); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *webFleet) ids() []any {
	var out []any
	for id := range f.bots {
		out = append(out, id)
	}
	return out
}

func (f *webFleet) run(action string, params map[string]any) (runbooks.ActionResult, error) {
	return f.reg.Run(context.Background(), runbooks.ActionRequest{IncidentID: "contain-fleet-breach::prod-binance",
		Runbook: "contain-fleet-breach", StepID: "freeze_all", Action: action, Params: params})
}

// freezeCalls counts the freezes each bot received.
func (f *webFleet) freezeCalls(id string) int {
	n := 0
	for _, c := range f.bots[id].Calls() {
		if c == "freeze" {
			n++
		}
	}
	return n
}

func TestFreezeManyFreezesTheWholeFleetWithBoundedFanOut(t *testing.T) {
	f := newWebFleet(t, 300)
	res, err := f.run("bot.freeze_many", map[string]any{"bots": f.ids(), "concurrency": 16})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["frozen"] != 300 || len(res.Outputs["failed"].([]any)) != 0 {
		t.Fatalf("outputs %v", res.Outputs)
	}
	for id, b := range f.bots {
		if b.State() != ibot.Frozen || f.freezeCalls(id) != 1 {
			t.Fatalf("%s: state %s after %d freezes", id, b.State(), f.freezeCalls(id))
		}
		if inc := b.Incidents(); inc[0] != "contain-fleet-breach::prod-binance" {
			t.Fatalf("%s got incident %q", id, inc[0])
		}
	}
	if m := f.maxSeen.Load(); m > 16 {
		t.Fatalf("%d freezes in flight at once, concurrency is 16", m)
	}
	// Freezing again (a replayed step) changes nothing and succeeds.
	if res, err = f.run("bot.freeze_many", map[string]any{"bots": f.ids()}); err != nil || res.Outputs["frozen"] != 300 {
		t.Fatalf("again: %v %v", res.Outputs, err)
	}
}

func TestFreezeManyParamsAreChecked(t *testing.T) {
	f := newWebFleet(t, 1)
	for name, params := range map[string]map[string]any{
		"no bots":         {},
		"concurrency 0":   {"bots": []any{"bot-001"}, "concurrency": 0},
		"concurrency 257": {"bots": []any{"bot-001"}, "concurrency": 257},
		"empty bot id":    {"bots": []any{""}},
	} {
		if _, err := f.run("bot.freeze_many", params); activities.ErrorType(err) != activities.ErrInvalidParams {
			t.Errorf("%s: %v", name, err)
		}
	}
	if f.freezeCalls("bot-001") != 0 {
		t.Fatal("a bad request froze a bot")
	}
}

// A bot that is down fails the attempt retryably, naming it; the retry
// (an activity attempt that sees the first attempt's heartbeat) freezes
// only that bot.
func TestFreezeManyRetrySkipsBotsFrozenByTheEarlierAttempt(t *testing.T) {
	f := newWebFleet(t, 20)
	f.down.Store("bot-007", true)
	params := map[string]any{"bots": f.ids(), "concurrency": 4}

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	f.reg.RegisterWith(env)
	var last botactions.FreezeProgress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var p botactions.FreezeProgress
		if err := d.Get(&p); err == nil {
			last = p
		}
	})
	req := runbooks.ActionRequest{IncidentID: "fleet-1", Runbook: "contain-fleet-breach", StepID: "freeze_all", Action: "bot.freeze_many", Params: params}
	_, err := env.ExecuteActivity("bot.freeze_many", req)
	if err == nil || !strings.Contains(err.Error(), "bot-007") || !strings.Contains(err.Error(), "froze 19 of 20") {
		t.Fatalf("first attempt: %v", err)
	}
	if activities.ErrorType(err) != botactions.ErrFleetPartial || nonRetryable(err) {
		t.Fatalf("want a retryable %s, got %v", botactions.ErrFleetPartial, err)
	}
	if len(last.Frozen) != 19 {
		t.Fatalf("last heartbeat holds %d frozen bots, want 19", len(last.Frozen))
	}

	f.down.Delete("bot-007")
	retry := s.NewTestActivityEnvironment()
	f.reg.RegisterWith(retry)
	retry.SetHeartbeatDetails(last)
	val, err := retry.ExecuteActivity("bot.freeze_many", req)
	if err != nil {
		t.Fatal(err)
	}
	var res runbooks.ActionResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Outputs["frozen"] != float64(20) {
		t.Fatalf("outputs %v", res.Outputs)
	}
	for id := range f.bots {
		if f.bots[id].State() != ibot.Frozen || f.freezeCalls(id) != 1 {
			t.Fatalf("%s: state %s, %d freezes (each bot once across both attempts)", id, f.bots[id].State(), f.freezeCalls(id))
		}
	}
}

func TestFreezeManyFailsForGoodWhenOnlyUnknownBotsFail(t *testing.T) {
	f := newWebFleet(t, 3)
	_, err := f.run("bot.freeze_many", map[string]any{"bots": append(f.ids(), "ghost")})
	if !nonRetryable(err) || activities.ErrorType(err) != botactions.ErrFleetPartial || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("want a non-retryable failure naming ghost, got %v", err)
	}
	for id := range f.bots {
		if f.bots[id].State() != ibot.Frozen {
			t.Fatalf("%s was not frozen: the known bots must be frozen anyway", id)
		}
	}
}

func TestSelectResolvesTargetsOrTheWholeAccount(t *testing.T) {
	f := newWebFleet(t, 5)
	res, err := f.run("bot.select", map[string]any{"exchange": "prod-binance", "targets": []any{
		map[string]any{"bot": "bot-002", "key_id": "LEAKED-2", "severity": "critical", "incident_id": "contain-key-breach:bot-002:LEAKED-2"},
		map[string]any{"bot": "bot-004"},
		map[string]any{"bot": "bot-002", "key_id": "LEAKED-2"}, // a repeat
		map[string]any{"bot": "ghost", "key_id": "K9"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	bots := res.Outputs["bots"].([]any)
	if res.Outputs["count"] != 2 || len(bots) != 2 {
		t.Fatalf("outputs %v", res.Outputs)
	}
	first, second := bots[0].(map[string]any), bots[1].(map[string]any)
	if first["bot"] != "bot-002" || first["key_id"] != "LEAKED-2" || first["severity"] != "critical" ||
		first["incident_id"] != "contain-key-breach:bot-002:LEAKED-2" || first["sub_account"] != "bot-002@example.com" {
		t.Errorf("first %v", first)
	}
	if second["key_id"] != "CUR-bot-004" || fmt.Sprint(second["ips"]) != "[10.0.0.7]" || fmt.Sprint(second["engine_ips"]) != "[10.9.9.9]" {
		t.Errorf("a target without key_id takes the bot's current key: %v", second)
	}
	if fmt.Sprint(res.Outputs["bot_ids"]) != "[bot-002 bot-004]" {
		t.Errorf("bot_ids %v", res.Outputs["bot_ids"])
	}
	un := res.Outputs["unresolved"].([]any)
	if len(un) != 1 || un[0].(map[string]any)["bot"] != "ghost" || un[0].(map[string]any)["key_id"] != "K9" {
		t.Errorf("unresolved %v", un)
	}

	all, err := f.run("bot.select", map[string]any{"exchange": "prod-binance"})
	if err != nil || all.Outputs["count"] != 5 || fmt.Sprint(all.Outputs["bot_ids"]) != "[bot-001 bot-002 bot-003 bot-004 bot-005]" {
		t.Fatalf("whole account: %v %v", all.Outputs, err)
	}
	named, err := f.run("bot.select", map[string]any{"exchange": "prod-binance", "targets": []any{"bot-003", "bot-001"}})
	if err != nil || fmt.Sprint(named.Outputs["bot_ids"]) != "[bot-003 bot-001]" {
		t.Fatalf("bare ids (runbook exec --input targets=bot-3,bot-1): %v %v", named.Outputs, err)
	}
	if _, err := f.run("bot.select", map[string]any{"exchange": "prod-binance", "targets": []any{map[string]any{"bot": "b", "colour": "red"}}}); activities.ErrorType(err) != activities.ErrInvalidParams {
		t.Fatalf("unknown target field: %v", err)
	}
	none, err := f.run("bot.select", map[string]any{"exchange": "prod-okx"})
	if err != nil || none.Outputs["count"] != 0 || len(none.Outputs["bots"].([]any)) != 0 {
		t.Fatalf("empty account: %v %v", none.Outputs, err)
	}
	for _, b := range f.bots {
		if len(b.Calls()) != 0 {
			t.Fatal("bot.select touched a bot")
		}
	}
}

func TestFleetSpecs(t *testing.T) {
	f := newWebFleet(t, 1)
	for name, se := range map[string]runbooks.SideEffect{"bot.select": runbooks.ReadOnly, "bot.freeze_many": runbooks.Reversible} {
		if s, ok := f.reg.Action(name); !ok || s.SideEffect != se {
			t.Errorf("%s: %v %v", name, ok, s.SideEffect)
		}
	}
}

// BenchmarkFreezeMany1000 is the fleet freeze of issue 8 (1,000 bots
// frozen within 5 s) over signed webhook calls on loopback, at the
// runbook's concurrency of 64. One op is one whole fleet.
func BenchmarkFreezeMany1000(b *testing.B) {
	f := newWebFleet(b, 1000)
	params := map[string]any{"bots": f.ids(), "concurrency": 64}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res, err := f.run("bot.freeze_many", params); err != nil || res.Outputs["frozen"] != 1000 {
			b.Fatalf("%v %v", res.Outputs, err)
		}
	}
}
