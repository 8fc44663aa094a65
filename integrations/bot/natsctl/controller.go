// Package natsctl controls in-house bots over NATS request/reply on the
// subject bot.<id>.control (engine side); package botclient is the bot
// side. Commands and replies are NaCl boxes between the engine's key pair
// and the bot's (see internal/wire), so delivered credentials are never
// readable on the wire and neither side acts on, or believes, a message
// the other did not send.
package natsctl

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/natsctl/internal/wire"
)

// Subject is the control subject of a bot.
func Subject(botID string) string { return "bot." + botID + ".control" }

// Options configure a Controller.
type Options struct {
	BotID string
	Conn  *nats.Conn
	// BotPublicKey is the bot's box public key; EnginePrivateKey the
	// engine's box private key (the bot holds the engine's public key).
	BotPublicKey     *[32]byte
	EnginePrivateKey *[32]byte
	Subject          string // default Subject(BotID)
	Exchange         string // credentials for another exchange are refused
	Timeout          time.Duration
	Now              func() time.Time
}

// Controller implements bot.Controller over NATS.
type Controller struct{ o Options }

var _ bot.Controller = (*Controller)(nil)

// New builds a Controller.
func New(o Options) (*Controller, error) {
	if o.BotID == "" || o.Conn == nil || o.BotPublicKey == nil || o.EnginePrivateKey == nil {
		return nil, errors.New("natsctl: bot id, connection and both keys are required")
	}
	if o.Subject == "" {
		o.Subject = Subject(o.BotID)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Controller{o: o}, nil
}

// Freeze asks the bot to stop trading; the sealed reply must say halted.
func (c *Controller) Freeze(ctx context.Context, opts bot.FreezeOptions) (bot.Status, error) {
	r, err := c.request(ctx, wire.Command{Action: "freeze", ForceExit: opts.ForceExit})
	st := toStatus(r)
	if err == nil && !st.State.Halted() {
		err = bot.Errorf(bot.KindNotVerified, c.o.BotID, "freeze", "bot answered state %q", st.State)
	}
	return st, err
}

// Unfreeze asks the bot to trade again; the reply must say running.
func (c *Controller) Unfreeze(ctx context.Context) (bot.Status, error) {
	r, err := c.request(ctx, wire.Command{Action: "unfreeze"})
	st := toStatus(r)
	if err == nil && st.State != bot.Running {
		err = bot.Errorf(bot.KindNotVerified, c.o.BotID, "unfreeze", "bot answered state %q", st.State)
	}
	return st, err
}

// Status asks the bot for its state.
func (c *Controller) Status(ctx context.Context) (bot.Status, error) {
	r, err := c.request(ctx, wire.Command{Action: "status"})
	return toStatus(r), err
}

// Reload asks the bot to re-read its configuration.
func (c *Controller) Reload(ctx context.Context) error {
	_, err := c.request(ctx, wire.Command{Action: "reload"})
	return err
}

// DeliverCredentials seals the credentials to the bot's key; the bot must
// answer with their fingerprint.
func (c *Controller) DeliverCredentials(ctx context.Context, cr bot.Credentials) error {
	if err := (bot.BotConfig{ID: c.o.BotID, Exchange: c.o.Exchange}).CheckExchange(cr); err != nil {
		return err
	}
	r, err := c.request(ctx, wire.Command{Action: "deliver", Credentials: &wire.Credentials{
		Exchange: cr.Exchange, APIKey: cr.APIKey, Secret: cr.Secret, Passphrase: cr.Passphrase}})
	if err != nil {
		return err
	}
	if r.Fingerprint != cr.Fingerprint() {
		return bot.Errorf(bot.KindNotVerified, c.o.BotID, "deliver", "bot reports credentials %q, sent %s", r.Fingerprint, cr.Fingerprint())
	}
	return nil
}

func (c *Controller) request(ctx context.Context, cmd wire.Command) (wire.Reply, error) {
	op := cmd.Action
	cmd.Bot = c.o.BotID
	cmd.Incident = bot.IncidentFrom(ctx)
	cmd.Timestamp = c.o.Now().Unix()
	env, err := wire.Seal(c.o.BotID, cmd, c.o.BotPublicKey, c.o.EnginePrivateKey)
	if err != nil {
		return wire.Reply{}, bot.Errorf(bot.KindInvalid, c.o.BotID, op, "seal: %v", err)
	}
	data, _ := json.Marshal(env)
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	msg, err := c.o.Conn.RequestWithContext(ctx, c.o.Subject, data)
	if errors.Is(err, nats.ErrNoResponders) {
		return wire.Reply{}, bot.Errorf(bot.KindUnavailable, c.o.BotID, op, "no bot listening on %s", c.o.Subject)
	}
	if err != nil {
		return wire.Reply{}, &bot.Error{Kind: bot.KindUnavailable, Bot: c.o.BotID, Op: op, Message: "request on " + c.o.Subject, Err: err}
	}
	var renv wire.Envelope
	if err := json.Unmarshal(msg.Data, &renv); err != nil {
		return wire.Reply{}, bot.Errorf(bot.KindUnavailable, c.o.BotID, op, "unreadable reply")
	}
	if renv.Error != "" {
		return wire.Reply{}, bot.Errorf(bot.KindAuth, c.o.BotID, op, "bot could not authenticate the command: %s", renv.Error)
	}
	var r wire.Reply
	if err := wire.Open(renv, &r, c.o.BotPublicKey, c.o.EnginePrivateKey); err != nil {
		return wire.Reply{}, bot.Errorf(bot.KindAuth, c.o.BotID, op, "reply not sealed by the bot's key: %v", err)
	}
	if r.InReplyTo != env.Nonce {
		return wire.Reply{}, bot.Errorf(bot.KindAuth, c.o.BotID, op, "reply answers another command")
	}
	if r.Error != "" {
		return r, bot.Errorf(bot.KindRejected, c.o.BotID, op, "%s", r.Error)
	}
	return r, nil
}

func toStatus(r wire.Reply) bot.Status {
	return bot.Status{State: bot.ParseState(r.State), OpenTrades: r.OpenTrades, Detail: r.Detail}
}
