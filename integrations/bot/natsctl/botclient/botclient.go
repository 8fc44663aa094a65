// Package botclient is what a Go trading bot imports to be controlled by
// the runbook engine over NATS: it answers sealed commands on
// bot.<id>.control by calling the bot's Handler.
//
//	keys := botclient.Keys{BotPrivate: myPriv, EnginePublic: enginePub}
//	err := botclient.Serve(ctx, nc, "bot-1", myBot, keys)
//
// Commands that do not open with the engine's key, carry another bot's id,
// a timestamp outside ±5 minutes or a nonce already seen are refused
// without calling the Handler.
package botclient

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/natsctl/internal/wire"
)

// Handler is what the bot implements (Reload optionally, via bot.Reloader).
type Handler = bot.Handler

// Keys: the bot's box private key and the engine's box public key.
type Keys struct {
	BotPrivate   *[32]byte
	EnginePublic *[32]byte
}

// Options tune Listen.
type Options struct {
	// HandlerTimeout bounds one Handler call (default 30 s).
	HandlerTimeout time.Duration
	Now            func() time.Time
}

// Serve answers commands until ctx is done, then drains the subscription.
func Serve(ctx context.Context, nc *nats.Conn, botID string, h Handler, keys Keys) error {
	sub, err := Listen(nc, botID, h, keys, Options{})
	if err != nil {
		return err
	}
	<-ctx.Done()
	return sub.Drain()
}

// Listen subscribes and returns at once; the subscription is live when it
// returns (flushed to the server).
func Listen(nc *nats.Conn, botID string, h Handler, keys Keys, o Options) (*nats.Subscription, error) {
	if keys.BotPrivate == nil || keys.EnginePublic == nil {
		return nil, errors.New("botclient: both keys are required")
	}
	if o.HandlerTimeout <= 0 {
		o.HandlerTimeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &server{botID: botID, h: h, keys: keys, o: o, seen: map[string]time.Time{}}
	sub, err := nc.Subscribe("bot."+botID+".control", s.handle)
	if err != nil {
		return nil, err
	}
	if err := nc.Flush(); err != nil {
		sub.Unsubscribe()
		return nil, err
	}
	return sub, nil
}

type server struct {
	botID string
	h     Handler
	keys  Keys
	o     Options

	mu   sync.Mutex
	seen map[string]time.Time
}

func (s *server) handle(m *nats.Msg) {
	var env wire.Envelope
	var cmd wire.Command
	if err := json.Unmarshal(m.Data, &env); err != nil {
		s.refuse(m, "unreadable envelope")
		return
	}
	if err := wire.Open(env, &cmd, s.keys.EnginePublic, s.keys.BotPrivate); err != nil {
		s.refuse(m, "command not sealed by the engine's key")
		return
	}
	now := s.o.Now()
	if d := now.Sub(time.Unix(cmd.Timestamp, 0)); d > wire.Window || d < -wire.Window {
		s.refuse(m, "timestamp outside the window")
		return
	}
	if cmd.Bot != s.botID || env.Bot != s.botID {
		s.refuse(m, "command for another bot")
		return
	}
	if !s.remember(env.Nonce, now.Add(2*wire.Window)) {
		s.refuse(m, "replayed command")
		return
	}
	ctx, cancel := context.WithTimeout(bot.WithIncident(context.Background(), cmd.Incident), s.o.HandlerTimeout)
	defer cancel()
	r := s.run(ctx, cmd)
	r.InReplyTo = env.Nonce
	out, err := wire.Seal(s.botID, r, s.keys.EnginePublic, s.keys.BotPrivate)
	if err != nil {
		return
	}
	b, _ := json.Marshal(out)
	_ = m.Respond(b)
}

func (s *server) run(ctx context.Context, cmd wire.Command) wire.Reply {
	var st bot.Status
	var err error
	var fp string
	switch cmd.Action {
	case "freeze":
		st, err = s.h.Freeze(ctx, cmd.ForceExit)
	case "unfreeze":
		st, err = s.h.Unfreeze(ctx)
	case "status":
		st, err = s.h.Status(ctx)
	case "deliver":
		if cmd.Credentials == nil {
			return wire.Reply{Error: "deliver without credentials"}
		}
		c := bot.Credentials{Exchange: cmd.Credentials.Exchange, APIKey: cmd.Credentials.APIKey,
			Secret: cmd.Credentials.Secret, Passphrase: cmd.Credentials.Passphrase}
		if err = s.h.Deliver(ctx, c); err == nil {
			fp = c.Fingerprint()
			st, err = s.h.Status(ctx)
		}
	case "reload":
		rl, ok := s.h.(bot.Reloader)
		if !ok {
			return wire.Reply{Error: "reload not supported"}
		}
		if err = rl.Reload(ctx); err == nil {
			st, err = s.h.Status(ctx)
		}
	default:
		return wire.Reply{Error: "unknown action " + cmd.Action}
	}
	if err != nil {
		return wire.Reply{Error: err.Error()}
	}
	return wire.Reply{State: string(st.State), OpenTrades: st.OpenTrades, Detail: st.Detail, Fingerprint: fp}
}

// refuse answers unsealed: the command was not authenticated, so there is
// nobody to seal a reply to.
func (s *server) refuse(m *nats.Msg, why string) {
	b, _ := json.Marshal(wire.Envelope{V: 1, Bot: s.botID, Error: why})
	_ = m.Respond(b)
}

func (s *server) remember(nonce string, until time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now()
	for n, exp := range s.seen {
		if now.After(exp) {
			delete(s.seen, n)
		}
	}
	if _, dup := s.seen[nonce]; dup {
		return false
	}
	s.seen[nonce] = until
	return true
}
