package natsctl_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/bottest"
	"github.com/keyresponse/runbook/integrations/bot/natsctl"
	"github.com/keyresponse/runbook/integrations/bot/natsctl/botclient"
	"github.com/keyresponse/runbook/integrations/bot/natsctl/internal/wire"
	"github.com/keyresponse/runbook/integrations/natsdev"
)

type keypair struct{ pub, priv *[32]byte }

func genKeys(t *testing.T) keypair {
	t.Helper()
	pub, priv, err := natsctl.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := natsctl.DecodeKey(pub)
	s, _ := natsctl.DecodeKey(priv)
	return keypair{p, s}
}

func startNATS(t *testing.T) *nats.Conn {
	t.Helper()
	srv, err := natsdev.Start(natsdev.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// wiretap records every message (commands and replies) as an observer
// with subscribe rights on ">" would.
type wiretap struct {
	mu   sync.Mutex
	msgs [][]byte
	subj []string
}

func tap(t *testing.T, nc *nats.Conn) *wiretap {
	w := &wiretap{}
	sub, err := nc.Subscribe(">", func(m *nats.Msg) {
		w.mu.Lock()
		w.subj = append(w.subj, m.Subject)
		w.msgs = append(w.msgs, append([]byte(nil), m.Data...))
		w.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	nc.Flush()
	return w
}

func (w *wiretap) first(subject string) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, s := range w.subj {
		if s == subject {
			return w.msgs[i]
		}
	}
	return nil
}

func (w *wiretap) all() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]byte(nil), w.msgs...)
}

func setup(t *testing.T) (*nats.Conn, *bottest.MemBot, *natsctl.Controller, *wiretap, keypair, keypair) {
	nc := startNATS(t)
	botK, engK := genKeys(t), genKeys(t)
	mb := bottest.New(2)
	sub, err := botclient.Listen(nc, "bot-9", mb, botclient.Keys{BotPrivate: botK.priv, EnginePublic: engK.pub}, botclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	w := tap(t, nc)
	c, err := natsctl.New(natsctl.Options{BotID: "bot-9", Conn: nc, BotPublicKey: botK.pub, EnginePrivateKey: engK.priv, Exchange: "okx"})
	if err != nil {
		t.Fatal(err)
	}
	return nc, mb, c, w, botK, engK
}

func TestControlOverNATS(t *testing.T) {
	_, mb, c, _, _, _ := setup(t)
	ctx := bot.WithIncident(context.Background(), "inc-9")
	st, err := c.Freeze(ctx, bot.FreezeOptions{})
	if err != nil || st.State != bot.Frozen || st.OpenTrades != 2 || mb.State() != bot.Frozen {
		t.Fatalf("freeze = %+v, %v", st, err)
	}
	if st, err = c.Freeze(ctx, bot.FreezeOptions{ForceExit: true}); err != nil || st.OpenTrades != 0 {
		t.Fatalf("freeze with force exit = %+v, %v", st, err)
	}
	if st, err = c.Status(ctx); err != nil || st.State != bot.Frozen {
		t.Fatalf("status = %+v, %v", st, err)
	}
	if st, err = c.Unfreeze(ctx); err != nil || st.State != bot.Running || mb.State() != bot.Running {
		t.Fatalf("unfreeze = %+v, %v", st, err)
	}
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for _, inc := range mb.Incidents() {
		if inc != "inc-9" {
			t.Fatalf("bot saw incidents %v", mb.Incidents())
		}
	}
}

func TestDeliveredCredentialsAreSealedOnTheWire(t *testing.T) {
	_, mb, c, w, _, _ := setup(t)
	cr := bot.Credentials{Exchange: "okx", APIKey: "okx-public-key-id", Secret: "canary-secret-4d2e", Passphrase: "canary-pass-77"}
	if err := c.DeliverCredentials(context.Background(), cr); err != nil {
		t.Fatal(err)
	}
	if mb.Credentials().Fingerprint() != cr.Fingerprint() || mb.Credentials().Secret != cr.Secret {
		t.Fatal("bot did not receive the credentials")
	}
	msgs := w.all()
	if len(msgs) == 0 {
		t.Fatal("wiretap saw nothing")
	}
	for _, m := range msgs {
		for _, s := range []string{cr.Secret, cr.Passphrase, cr.APIKey, "canary",
			base64.StdEncoding.EncodeToString([]byte(cr.Secret))} {
			if strings.Contains(string(m), s) {
				t.Fatalf("observer saw %q in %s", s, m)
			}
		}
	}
	if err := c.DeliverCredentials(context.Background(), cr); err != nil || mb.Deliveries() != 2 {
		t.Fatalf("second delivery: %v", err)
	}
	if err := c.DeliverCredentials(context.Background(), bot.Credentials{Exchange: "binance", APIKey: "k", Secret: "s"}); bot.KindOf(err) != bot.KindInvalid {
		t.Fatalf("delivery for another exchange: %v", err)
	}
}

func TestBotRefusesCommandsNotFromTheEngine(t *testing.T) {
	nc, mb, _, _, botK, _ := setup(t)
	intruder := genKeys(t)
	c, _ := natsctl.New(natsctl.Options{BotID: "bot-9", Conn: nc, BotPublicKey: botK.pub, EnginePrivateKey: intruder.priv})
	_, err := c.Freeze(context.Background(), bot.FreezeOptions{})
	if bot.KindOf(err) != bot.KindAuth {
		t.Fatalf("err = %v, want auth", err)
	}
	if len(mb.Calls()) != 0 || mb.State() != bot.Running {
		t.Fatalf("bot obeyed an intruder: %v", mb.Calls())
	}
}

func TestReplayedCommandIsRefused(t *testing.T) {
	nc, mb, c, w, _, _ := setup(t)
	ctx := context.Background()
	if _, err := c.Freeze(ctx, bot.FreezeOptions{}); err != nil {
		t.Fatal(err)
	}
	freezeCmd := w.first(natsctl.Subject("bot-9"))
	if _, err := c.Unfreeze(ctx); err != nil {
		t.Fatal(err)
	}
	reply, err := nc.Request(natsctl.Subject("bot-9"), freezeCmd, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var env wire.Envelope
	json.Unmarshal(reply.Data, &env)
	if env.Error != "replayed command" {
		t.Fatalf("replay answered %s", reply.Data)
	}
	if mb.State() != bot.Running || len(mb.Calls()) != 2 {
		t.Fatalf("replayed freeze acted: state %s calls %v", mb.State(), mb.Calls())
	}
}

func TestEngineDoesNotBelieveAnImpostorReply(t *testing.T) {
	nc := startNATS(t)
	botK, engK, imp := genKeys(t), genKeys(t), genKeys(t)
	// Something else answers on the bot's subject, claiming "frozen".
	sub, _ := nc.Subscribe(natsctl.Subject("bot-x"), func(m *nats.Msg) {
		var req wire.Envelope
		json.Unmarshal(m.Data, &req)
		env, _ := wire.Seal("bot-x", wire.Reply{InReplyTo: req.Nonce, State: "frozen"}, engK.pub, imp.priv)
		b, _ := json.Marshal(env)
		m.Respond(b)
	})
	defer sub.Unsubscribe()
	c, _ := natsctl.New(natsctl.Options{BotID: "bot-x", Conn: nc, BotPublicKey: botK.pub, EnginePrivateKey: engK.priv})
	st, err := c.Freeze(context.Background(), bot.FreezeOptions{})
	if bot.KindOf(err) != bot.KindAuth || st.State == bot.Frozen {
		t.Fatalf("freeze = %+v, %v; want auth error", st, err)
	}
}

func TestNoBotListening(t *testing.T) {
	nc := startNATS(t)
	botK, engK := genKeys(t), genKeys(t)
	c, _ := natsctl.New(natsctl.Options{BotID: "ghost", Conn: nc, BotPublicKey: botK.pub, EnginePrivateKey: engK.priv})
	if _, err := c.Status(context.Background()); bot.KindOf(err) != bot.KindUnavailable {
		t.Fatalf("err = %v, want unavailable", err)
	}
}

func TestKeyHelpers(t *testing.T) {
	pub, priv, err := natsctl.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := natsctl.DecodeKey(pub)
	s, _ := natsctl.DecodeKey(priv)
	derived, err := natsctl.PublicKeyOf(s)
	if err != nil || *derived != *p {
		t.Fatal("PublicKeyOf does not match the generated public key")
	}
	if _, err := natsctl.DecodeKey("not-a-key"); err == nil {
		t.Fatal("DecodeKey accepted garbage")
	}
}

func TestServeAnswersUntilItsContextEnds(t *testing.T) {
	nc := startNATS(t)
	botK, engK := genKeys(t), genKeys(t)
	mb := bottest.New(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- botclient.Serve(ctx, nc, "bot-s", mb, botclient.Keys{BotPrivate: botK.priv, EnginePublic: engK.pub})
	}()
	c, _ := natsctl.New(natsctl.Options{BotID: "bot-s", Conn: nc, BotPublicKey: botK.pub, EnginePrivateKey: engK.priv})
	// Serve subscribes in its goroutine: wait (bounded) until it answers.
	var err error
	for i := 0; i < 100; i++ {
		if _, err = c.Status(context.Background()); bot.KindOf(err) != bot.KindUnavailable {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Serve never answered: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := c.Status(context.Background()); bot.KindOf(err) != bot.KindUnavailable {
		t.Fatalf("after Serve ended: %v, want unavailable", err)
	}
}
