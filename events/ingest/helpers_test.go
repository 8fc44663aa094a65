package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/workflows"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func testKeyring() breach.Keyring { return breach.Keyring{"k1": testKey} }

// natsServer starts an embedded nats-server with JetStream on 127.0.0.1,
// storing in dir. port 0 picks a free port.
func natsServer(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		NoLog: true, NoSigs: true, MaxPayload: 1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return s
}

func serverPort(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }

type env struct {
	t   testing.TB
	dir string
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	kv  jetstream.KeyValue
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.srv = natsServer(t, e.dir, 0)
	t.Cleanup(func() { e.srv.Shutdown() })
	nc, err := Connect(ConnOptions{URL: e.srv.ClientURL(), Name: "test", ReconnectWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e.nc = nc
	e.js, err = jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := EnsureStreams(ctx, e.js); err != nil {
		t.Fatal(err)
	}
	if e.kv, err = EnsureReplayBucket(ctx, e.js, breach.DefaultWindow); err != nil {
		t.Fatal(err)
	}
	return e
}

// fakeStarter records calls; an incident id seen before is "running" and
// gets a signal. failNext makes the next n calls fail.
type fakeStarter struct {
	mu       sync.Mutex
	running  map[string]bool
	starts   []StartRequest
	signals  []StartRequest
	failNext int
	calls    int
	delay    time.Duration   // per call, to keep work in flight
	panics   int             // the next n calls panic
	closed   map[string]bool // incidents that already ended
	// failFor makes the next n calls for an incident id fail.
	failFor map[string]int
}

func (f *fakeStarter) StartOrSignal(_ context.Context, r StartRequest) (StartResult, error) {
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.failFor[r.IncidentID] > 0 {
		f.failFor[r.IncidentID]--
		return StartResult{}, fmt.Errorf("temporal unavailable for %s (injected)", r.IncidentID)
	}
	if f.panics > 0 {
		f.panics--
		panic("starter bug (injected)")
	}
	if f.failNext > 0 {
		f.failNext--
		return StartResult{}, fmt.Errorf("temporal unavailable (injected)")
	}
	if f.closed[r.IncidentID] {
		return StartResult{IncidentID: r.IncidentID, Closed: true}, nil
	}
	if f.running == nil {
		f.running = map[string]bool{}
	}
	if f.running[r.IncidentID] {
		f.signals = append(f.signals, r)
		return StartResult{IncidentID: r.IncidentID}, nil
	}
	f.running[r.IncidentID] = true
	f.starts = append(f.starts, r)
	return StartResult{IncidentID: r.IncidentID, Started: true}, nil
}

func (f *fakeStarter) snapshot() (starts, signals []StartRequest, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]StartRequest(nil), f.starts...), append([]StartRequest(nil), f.signals...), f.calls
}

// evidence is every event a request carries, in order.
func (r StartRequest) evidence() []workflows.Evidence {
	return append([]workflows.Evidence{r.Evidence}, r.MoreEvidence...)
}

func containRunbook() LoadedRunbook {
	return LoadedRunbook{Hash: "sha256:test", Runbook: runbooks.Runbook{
		Name: "contain-key-breach",
		Inputs: []runbooks.Input{
			{Name: "bot", Type: runbooks.InputString, Required: true},
			{Name: "exchange", Type: runbooks.InputString, Required: true},
			{Name: "cancel_orders", Type: runbooks.InputBool, Default: true},
		},
		Triggers: []runbooks.Trigger{{
			Subject: "breach.*.key_leaked",
			When:    `event.data.severity in ["high", "critical"]`,
			Inputs:  map[string]string{"bot": "${{ event.data.bot }}", "exchange": "${{ event.data.exchange }}"},
		}},
		Steps: []runbooks.Step{{ID: "freeze", Action: "bot.freeze"}},
	}}
}

type consumerOpt func(*Config)

// runConsumer starts a trigger consumer and returns it with a stop func
// that waits until Run returned.
func (e *env) runConsumer(st Starter, opts ...consumerOpt) (*Consumer, func()) {
	e.t.Helper()
	cfg := Config{
		Verifier: &breach.Verifier{Keys: testKeyring(), Replay: KVReplayGuard{KV: e.kv}},
		Runbooks: func() []LoadedRunbook { return []LoadedRunbook{containRunbook()} },
		Starter:  st,
		Backoff:  []time.Duration{20 * time.Millisecond},
		AckWait:  5 * time.Second,
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := NewConsumer(context.Background(), e.js, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
	}
	e.t.Cleanup(stop)
	return c, stop
}

func event(bot, kind string, sev breach.Severity, at time.Time) breach.Event {
	return breach.New("/test", kind, breach.Data{
		Bot: bot, Exchange: "binance", KeyID: "AK-" + bot, Severity: sev, Source: "test",
		Evidence: map[string]any{"ip": "203.0.113.7"},
	}, at)
}

func (e *env) sign(ev breach.Event) breach.Event {
	e.t.Helper()
	s, err := breach.Sign(ev, testKeyring(), "k1")
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) publish(ev breach.Event) {
	e.t.Helper()
	if _, err := Publish(context.Background(), e.js, e.sign(ev)); err != nil {
		e.t.Fatal(err)
	}
}

// publishRaw stores arbitrary bytes on subject, bypassing Publish's checks
// (what a hostile or buggy publisher can do).
func (e *env) publishRaw(subject string, body []byte, msgID string) {
	e.t.Helper()
	m := nats.NewMsg(subject)
	m.Data = body
	if _, err := e.js.PublishMsg(context.Background(), m, jetstream.WithMsgID(msgID)); err != nil {
		e.t.Fatal(err)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitFor polls cond until it holds; the deadline only bounds a hung test,
// no assertion depends on timing.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dlq reads every dead letter.
func (e *env) dlq() []*jetstream.RawStreamMsg {
	e.t.Helper()
	ctx := context.Background()
	st, err := e.js.Stream(ctx, StreamDLQ)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		out = append(out, m)
	}
	return out
}

// pending is how many BREACH messages the consumer has not acked yet.
func (e *env) pending(durable string) (uint64, int) {
	e.t.Helper()
	c, err := e.js.Consumer(context.Background(), StreamBreach, durable)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.NumPending, info.NumAckPending
}

// all is every call the starter answered, starts and signals, in the order
// they were recorded.
func (f *fakeStarter) all() []StartRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(append([]StartRequest(nil), f.starts...), f.signals...)
}

// gated runs a consumer that takes a first "gate" event as its own
// batch, then holds before taking the next batch; queue what the test
// wants in ONE batch, then release: it waits until the consumer holds
// all of it in its buffer and lets the next batch go. Batch composition
// is then exact, not a matter of timing.
type gated struct {
	e    *env
	c    *Consumer
	st   *fakeStarter
	open chan struct{}
}

func (e *env) runGated(st *fakeStarter, opts ...consumerOpt) *gated {
	e.t.Helper()
	g := &gated{e: e, st: st, open: make(chan struct{})}
	var batches atomic.Int32
	opts = append(opts, func(c *Config) {
		c.beforeBatch = func() {
			if batches.Add(1) == 2 {
				<-g.open
			}
		}
	})
	g.c, _ = e.runConsumer(st, opts...)
	// Runs before the consumer's stop (cleanups run last first): a test
	// that failed before release must not leave Run waiting on the gate.
	e.t.Cleanup(g.opened)
	e.publish(event("gate", "key_leaked", breach.SeverityHigh, time.Now()))
	waitFor(e.t, "gate batch done", func() bool { return g.c.Stats().Acked == 1 && batches.Load() == 2 })
	return g
}

// release waits until n messages wait in the consumer's buffer, then
// lets the consumer take them as one batch.
func (g *gated) release(n int) {
	g.e.t.Helper()
	if n > g.c.cfg.BatchSize {
		g.e.t.Fatalf("%d messages do not fit one batch of %d", n, g.c.cfg.BatchSize)
	}
	waitFor(g.e.t, "messages buffered", func() bool { return g.c.buffered() == n })
	g.opened()
}

func (g *gated) opened() {
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// withoutGate drops the gate incident's calls.
func withoutGate(reqs []StartRequest) []StartRequest {
	var out []StartRequest
	for _, r := range reqs {
		if r.IncidentID != "contain-key-breach:gate" {
			out = append(out, r)
		}
	}
	return out
}
