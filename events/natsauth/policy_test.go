package natsauth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/audit/audittest"
	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/natsauth"
	"github.com/keyresponse/runbook/integrations/natsdev"
)

// server runs nats-server with the policy, users provisioned as
// `runbook dev` provisions them, and the engine's streams created by the
// engine user.
type server struct {
	url   string
	seeds string
}

func startServer(t *testing.T) *server {
	t.Helper()
	seeds := t.TempDir()
	users, err := natsauth.EnsureSeeds(seeds)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := natsauth.ServerConfig(users)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := natsdev.Start(natsdev.Options{StoreDir: t.TempDir(), Config: conf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)
	s := &server{url: ns.URL(), seeds: seeds}
	_, js := s.connect(t, natsauth.RoleEngine)
	ctx := context.Background()
	if err := ingest.EnsureStreams(ctx, js); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.EnsureStream(ctx, js, audit.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return s
}

// asyncErrs collects a connection's asynchronous errors (permission
// violations arrive that way).
type asyncErrs struct {
	mu   sync.Mutex
	errs []error
}

func (a *asyncErrs) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, err)
}

func (a *asyncErrs) joined() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return errors.Join(a.errs...).Error()
}

func (s *server) connectWith(t *testing.T, r natsauth.Role, errs *asyncErrs) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	opt, err := nats.NkeyOptionFromSeed(natsauth.SeedFile(s.seeds, r))
	if err != nil {
		t.Fatal(err)
	}
	opts := []nats.Option{opt}
	if r == natsauth.RoleEngine {
		opts = append(opts, nats.CustomInboxPrefix(natsauth.EngineInboxPrefix))
	}
	if errs != nil {
		opts = append(opts, nats.ErrorHandler(errs.handler))
	}
	nc, err := nats.Connect(s.url, opts...)
	if err != nil {
		t.Fatalf("%s connects: %v", r, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func (s *server) connect(t *testing.T, r natsauth.Role) (*nats.Conn, jetstream.JetStream) {
	return s.connectWith(t, r, nil)
}

func shortCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// refusedCtx bounds a call the server refuses: a JetStream API request
// whose publish is a permissions violation gets no reply and times out.
func refusedCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

func signedEvent(t *testing.T, bot string) breach.Event {
	t.Helper()
	kr := breach.Keyring{"k1": []byte("0123456789abcdef0123456789abcdef")}
	ev, err := breach.Sign(breach.New("/monitor", "key_leaked", breach.Data{Bot: bot, Exchange: "binance", Severity: "high", Source: "test"}, time.Now()), kr, "k1")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	st, err := js.Stream(shortCtx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(shortCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestUnauthenticatedClientIsRefused(t *testing.T) {
	s := startServer(t)
	_, err := nats.Connect(s.url)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("a client without credentials connected: %v", err)
	}
}

func TestPublisherPublishesBreachEventsAndNothingElse(t *testing.T) {
	s := startServer(t)
	_, engine := s.connect(t, natsauth.RoleEngine)
	errs := &asyncErrs{}
	nc, js := s.connectWith(t, natsauth.RolePublisher, errs)

	// Given a publisher, when it publishes a signed event, then JetStream
	// acks it and it is in BREACH (through the import into ENGINE).
	ack, err := ingest.Publish(shortCtx(t), js, signedEvent(t, "bot-1"))
	if err != nil {
		t.Fatalf("publisher's breach event: %v", err)
	}
	if ack.Stream != ingest.StreamBreach {
		t.Fatalf("acked by stream %q, want %s", ack.Stream, ingest.StreamBreach)
	}
	if n := streamMsgs(t, engine, ingest.StreamBreach); n != 1 {
		t.Fatalf("BREACH holds %d messages, want 1", n)
	}

	// It cannot read AUDIT, list or delete streams: its account has no
	// JetStream and imports none of ENGINE's API.
	if _, err := js.Stream(refusedCtx(t), audit.StreamName); err == nil {
		t.Fatal("publisher read the AUDIT stream's info")
	}
	if err := js.DeleteStream(refusedCtx(t), ingest.StreamBreach); err == nil {
		t.Fatal("publisher deleted BREACH")
	}
	// It cannot append to the audit trail or publish on other subjects.
	if err := nc.Publish(audit.Subject("contain-key-breach:bot-1"), []byte(`{"kind":"approval.granted"}`)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, engine, audit.StreamName); n != 0 {
		t.Fatalf("AUDIT holds %d messages after the publisher's append", n)
	}
	waitFor(t, func() bool { return strings.Contains(errs.joined(), "Permissions Violation") },
		"the server never reported the publisher's audit publish as a permissions violation")
	// Nor read breach events back.
	if _, err := nc.SubscribeSync(ingest.SubjectsBreach); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(errs.joined(), "Subscription to \"breach.>\"") },
		"the server never refused the publisher's breach.> subscription")
}

func TestOperatorReadsTheAuditTrailOnly(t *testing.T) {
	s := startServer(t)
	_, engine := s.connect(t, natsauth.RoleEngine)
	incident := "contain-key-breach:bot-1"
	if _, err := audit.NewStore(engine, audit.WithKeys(audittest.Keys())).Append(shortCtx(t), audit.Record{IncidentID: incident, Kind: audit.IncidentOpened, Key: "opened"}); err != nil {
		t.Fatal(err)
	}
	errs := &asyncErrs{}
	nc, js := s.connectWith(t, natsauth.RoleOperator, errs)

	// Given an operator, when it reads the trail, then it gets it (direct
	// gets and an ordered consumer, as `runbook audit` reads).
	recs, err := audit.Load(shortCtx(t), js, incident, audit.DirectReads())
	if err != nil || len(recs) != 1 {
		t.Fatalf("operator read %d records: %v", len(recs), err)
	}
	if _, err := audit.ListIncidents(shortCtx(t), js, audit.DirectReads()); err != nil {
		t.Fatalf("operator lists incidents: %v", err)
	}

	// It cannot write, remove or reconfigure anything.
	if _, err := js.Publish(refusedCtx(t), audit.Subject(incident), []byte(`{"kind":"approval.granted","actor":"mallory"}`)); err == nil {
		t.Fatal("operator appended to the audit trail")
	}
	if _, err := ingest.Publish(refusedCtx(t), js, signedEvent(t, "bot-2")); err == nil {
		t.Fatal("operator published a breach event")
	}
	if err := js.DeleteStream(refusedCtx(t), audit.StreamName); err == nil {
		t.Fatal("operator deleted AUDIT")
	}
	if _, err := js.CreateStream(refusedCtx(t), jetstream.StreamConfig{Name: "MINE", Subjects: []string{"mine.>"}}); err == nil {
		t.Fatal("operator created a stream")
	}
	// Nor a consumer: a push consumer's deliver subject is not checked
	// against its creator's permissions, so one delivering into breach.>
	// would let a reader write breach events.
	if _, err := js.CreateOrUpdateConsumer(refusedCtx(t), audit.StreamName, jetstream.ConsumerConfig{Durable: "spy", DeliverSubject: "breach.bot-1.key_leaked"}); err == nil {
		t.Fatal("operator created a push consumer on AUDIT delivering into breach.>")
	}
	if _, err := js.OrderedConsumer(refusedCtx(t), audit.StreamName, jetstream.OrderedConsumerConfig{}); err == nil {
		t.Fatal("operator created a consumer on AUDIT")
	}
	if _, err := js.Stream(refusedCtx(t), ingest.StreamBreach); err == nil {
		t.Fatal("operator read BREACH's info")
	}
	if n := streamMsgs(t, engine, audit.StreamName); n != 1 {
		t.Fatalf("AUDIT holds %d records, want the engine's 1", n)
	}

	// And it does not see the engine's replies, though it may subscribe
	// to _INBOX.>: the engine replies on its own prefix.
	spy, err := nc.SubscribeSync("_INBOX.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if recs, err := audit.Load(shortCtx(t), engine, incident); err != nil || len(recs) != 1 {
		t.Fatalf("engine read: %d, %v", len(recs), err)
	}
	if m, err := spy.NextMsg(300 * time.Millisecond); err == nil {
		t.Fatalf("operator received a reply meant for the engine on %s", m.Subject)
	}
}

func TestEngineCannotDeleteStreamsAdminCan(t *testing.T) {
	s := startServer(t)
	_, engine := s.connect(t, natsauth.RoleEngine)
	if err := engine.DeleteStream(refusedCtx(t), ingest.StreamBreach); err == nil {
		t.Fatal("engine deleted BREACH")
	}
	if err := engine.DeleteStream(refusedCtx(t), audit.StreamName); err == nil {
		t.Fatal("engine deleted AUDIT")
	}
	_, admin := s.connect(t, natsauth.RoleAdmin)
	if err := admin.DeleteStream(shortCtx(t), ingest.StreamDLQ); err != nil {
		t.Fatalf("admin deletes BREACH_DLQ: %v", err)
	}
}

func TestServerConfigRefusesMissingOrMalformedUsers(t *testing.T) {
	if _, err := natsauth.ServerConfig(natsauth.Users{natsauth.RoleEngine: {"UABC"}}); err == nil || !strings.Contains(err.Error(), "no admin user") {
		t.Fatalf("missing roles: %v", err)
	}
	u := natsauth.Users{}
	for _, r := range natsauth.Roles {
		u[r] = []string{"UABC"}
	}
	u[natsauth.RolePublisher] = []string{"U\" } } accounts { X"}
	if _, err := natsauth.ServerConfig(u); err == nil || !strings.Contains(err.Error(), "not an nkey user public key") {
		t.Fatalf("injected key: %v", err)
	}
}

func waitFor(t *testing.T, ok func() bool, msg string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal(msg)
}
