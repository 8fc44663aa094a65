package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"golang.org/x/crypto/ssh"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/activities/notify"
	"github.com/keyresponse/runbook/cmd/runbook/config"
	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/integrations/sms"
	"github.com/keyresponse/runbook/integrations/sms/twiliosim"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

// smsSetup is the SMS side of the engine: the Twilio client, the on-call
// roster, the sent log / answer store, and the inbound webhook.
type smsSetup struct {
	sender    sms.Sender
	roster    *sms.Roster
	codeKey   []byte
	store     *sms.FileStore
	authToken string
	sim       *twiliosim.Server // dev only

	// operators is the worker's live roster (authz.Live.Policy) and
	// engineSign signs with the engine key (operatorkey.Sign over the
	// engine's ssh.Signer): set by the authz wiring. Without them an SMS
	// APPROVE/DENY is answered "could not be applied" and changes nothing.
	operators  func() *authz.Compiled
	engineSign func(authz.Statement) (authz.Signed, error)
}

// action is notify.sms over this setup (a zero setup yields an action that
// explains what is missing).
func (s *smsSetup) action() activities.Action {
	if s == nil {
		return notify.SMS(notify.SMSDeps{})
	}
	return notify.SMS(notify.SMSDeps{Sender: s.sender, Roster: s.roster, CodeKey: s.codeKey, Sent: s.store, Acks: s.store})
}

// useAuthz hands the SMS side the worker's live roster and the engine key:
// the webhook relays APPROVE/DENY replies as statements signed with it, on
// behalf of the operator whose roster phone answered. Call it before
// webhook.
func (s *smsSetup) useAuthz(live *authz.Live, engine ssh.Signer) {
	if s == nil || live == nil {
		return
	}
	s.operators = live.Policy
	if engine != nil {
		s.engineSign = func(st authz.Statement) (authz.Signed, error) { return operatorkey.Sign(engine, st) }
	}
}

// registerAskApprovers registers notify.ask_approvers (the text an
// approval or hold gate sends its approvers when it starts waiting) over
// this setup and the live roster and secrets (the SMS factor code key).
func (s *smsSetup) registerAskApprovers(w worker.ActivityRegistry, live *authz.Live) {
	d := notify.AskDeps{}
	if live != nil {
		d.Roster, d.Secrets = live.Policy, live.Secrets
	}
	if s != nil {
		d.Sender, d.CodeKey, d.Sent, d.Acks = s.sender, s.codeKey, s.store, s.store
	}
	notify.RegisterAskApprovers(w, d)
}

// webhook is the inbound-SMS handler: APPROVE/DENY <code> from an
// operator's roster phone becomes an engine-signed approve/deny Update on
// the incident's gate, on that operator's behalf.
func (s *smsSetup) webhook(tc client.Client) (*sms.Webhook, error) {
	return sms.NewWebhook(sms.WebhookConfig{
		AuthToken: s.authToken,
		Roster:    s.roster,
		Operators: s.operators,
		Acks:      s.store,
		Responder: sms.GateResponder{Acks: s.store, Decider: temporalDecider{tc}, Operators: s.operators, Sign: s.engineSign},
	})
}

// temporalDecider applies an SMS answer as the approve or deny Update on
// the run that texted the code.
type temporalDecider struct{ c client.Client }

func (d temporalDecider) Decide(ctx context.Context, g sms.GateDecision) error {
	name := workflows.UpdateDeny
	if g.Approve {
		name = workflows.UpdateApprove
	}
	h, err := updateWorkflow(ctx, d.c, client.UpdateWorkflowOptions{
		WorkflowID: g.Incident, RunID: g.Run, UpdateName: name, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.Decision{Step: g.Gate, Identity: g.Operator, Comment: g.Comment, Signed: &g.Signed}},
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, nil)
}

// rosterFromConfig converts the config's oncall section.
func rosterFromConfig(o config.Oncall) *sms.Roster {
	r := &sms.Roster{Escalation: o.Escalation, AckTimeout: sms.Duration(o.AckTimeout.D())}
	for _, p := range o.People {
		r.People = append(r.People, sms.Person{Name: p.Name, Phone: p.Phone, Role: p.Role})
	}
	return r
}

// startDevSMS runs a local Twilio-speaking sink that prints every message
// on the console, and a client pointed at it.
func startDevSMS(home string, cfg config.Oncall, console io.Writer) (*smsSetup, error) {
	sid, token := "AC"+randomHex(16), randomHex(16)
	sim, err := twiliosim.Start(twiliosim.Config{AccountSID: sid, AuthToken: token, Out: console})
	if err != nil {
		return nil, fmt.Errorf("sms sink: %w", err)
	}
	roster := rosterFromConfig(cfg)
	if len(roster.People) == 0 {
		roster.People = []sms.Person{{Name: "oncall-dev", Phone: "+15550100001", Role: "primary"}, {Name: "oncall-backup", Phone: "+15550100002", Role: "secondary"}}
		roster.AckTimeout = sms.Duration(5 * time.Minute)
	}
	client, err := sms.New(sms.Config{Credentials: sms.Credentials{AccountSID: sid, AuthToken: token}, From: "+15550109999", BaseURL: sim.URL()})
	if err != nil {
		sim.Close()
		return nil, err
	}
	s, err := smsCommon(home, roster)
	if err != nil {
		sim.Close()
		return nil, err
	}
	s.sender, s.sim, s.authToken = client, sim, token
	return s, nil
}

// smsFromConfig builds the production SMS setup: Twilio credentials from
// the environment (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN) or the secret
// store (oncall.twilio.auth_token_ref). Without either, notify.sms fails with
// a clear error and containment goes on (runbooks mark it on_failure: continue).
func smsFromConfig(ctx context.Context, home string, cfg config.Oncall, store secrets.Store) (*smsSetup, error) {
	creds, err := sms.CredentialsFromEnv(os.Getenv)
	if err != nil && cfg.Twilio.AuthTokenRef != "" && store != nil {
		creds, err = sms.CredentialsFromStore(ctx, store, cfg.Twilio.AuthTokenRef, cfg.Twilio.AccountSID)
	}
	s, cerr := smsCommon(home, rosterFromConfig(cfg))
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return s, nil // no credentials: the action reports it when used
	}
	c, err := sms.New(sms.Config{Credentials: creds, From: cfg.Twilio.From, MessagingServiceSID: cfg.Twilio.MessagingServiceSID, BaseURL: cfg.Twilio.BaseURL})
	if err != nil {
		return nil, err
	}
	s.sender, s.authToken = c, creds.AuthToken
	return s, nil
}

func smsCommon(home string, roster *sms.Roster) (*smsSetup, error) {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	store, err := sms.OpenFileStore(filepath.Join(home, "sms-state.json"))
	if err != nil {
		return nil, fmt.Errorf("sms state: %w", err)
	}
	key, err := loadOrCreateCodeKey(filepath.Join(home, "sms-code.key"))
	if err != nil {
		return nil, err
	}
	return &smsSetup{roster: roster, codeKey: key, store: store}, nil
}

// loadOrCreateCodeKey keeps the approval-code HMAC key in a 0600 file, so
// codes stay the same across restarts (a replayed step gets the same code).
func loadOrCreateCodeKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		return hex.DecodeString(string(b))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return key, os.WriteFile(path, []byte(hex.EncodeToString(key)), 0o600)
}

func (s *smsSetup) close() {
	if s != nil && s.sim != nil {
		s.sim.Close()
	}
}
