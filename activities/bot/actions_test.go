package bot_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/activities"
	botactions "github.com/keyresponse/runbook/activities/bot"
	ibot "github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/freqtrade"
	"github.com/keyresponse/runbook/integrations/bot/freqtrade/freqtradesim"
	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/runbooks"
)

const apiPW = "ft-api-password"

type memSecrets map[string][]byte

func (m memSecrets) Get(_ context.Context, ref string) ([]byte, error) {
	v, ok := m[ref]
	if !ok {
		return nil, fmt.Errorf("%s: %w", ref, secrets.ErrNotFound)
	}
	return v, nil
}

type fixture struct {
	sim     *freqtradesim.Sim
	reg     *activities.Registry
	secrets memSecrets
	path    string
}

func setup(t *testing.T, o freqtradesim.Options, password string) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "secrets.json"), secrets: memSecrets{}}
	o.Password = apiPW
	o.SecretsConfigPath = f.path
	sim, err := freqtradesim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	f.sim = sim
	ctl, err := freqtrade.New(freqtrade.Options{BotID: "ft-1", BaseURL: sim.URL(), Username: "freqtrader", Password: password,
		SecretsConfigPath: f.path, Exchange: "binance", VerifyInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	deps := botactions.Deps{
		Bots: func(id string) (ibot.Controller, error) {
			if id != "ft-1" {
				return nil, ibot.Errorf(ibot.KindInvalid, id, "resolve", "no bot configured with this id")
			}
			return ctl, nil
		},
		Secrets: f.secrets,
	}
	reg, err := activities.NewRegistry(botactions.Actions(deps)...)
	if err != nil {
		t.Fatal(err)
	}
	f.reg = reg
	return f
}

// run runs an action and checks that it returns only the outputs its spec
// declares (runbook templates are checked against the declaration).
func (f *fixture) run(action string, params map[string]any) (runbooks.ActionResult, error) {
	res, err := f.reg.Run(context.Background(), runbooks.ActionRequest{
		IncidentID: "inc-1", Runbook: "contain-key-breach", StepID: "s-" + action, Action: action, Params: params})
	if err == nil {
		spec, _ := f.reg.Action(action)
		declared := map[string]bool{}
		for _, o := range spec.Outputs {
			declared[o] = true
		}
		for k := range res.Outputs {
			if !declared[k] {
				return res, fmt.Errorf("%s returned undeclared output %q", action, k)
			}
		}
	}
	return res, err
}

func TestFreezeActionVerifiesAndIsIdempotent(t *testing.T) {
	f := setup(t, freqtradesim.Options{OpenTrades: 1}, apiPW)
	res, err := f.run("bot.freeze", map[string]any{"bot": "ft-1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["state"] != "frozen" || res.Outputs["frozen"] != true || res.Outputs["open_trades"] != 1 {
		t.Fatalf("outputs %v", res.Outputs)
	}
	if f.sim.State() != "stopped" {
		t.Fatalf("bot is %s", f.sim.State())
	}
	for _, c := range f.sim.ControlCalls() {
		if c == "/forceexit" {
			t.Fatal("force_exit defaults to false but positions were closed")
		}
	}
	if res, err = f.run("bot.freeze", map[string]any{"bot": "ft-1"}); err != nil || res.Outputs["frozen"] != true {
		t.Fatalf("second freeze: %v %v", res.Outputs, err)
	}
}

func TestFreezeWithForceExitThenUnfreezeAndStatus(t *testing.T) {
	f := setup(t, freqtradesim.Options{OpenTrades: 2}, apiPW)
	res, err := f.run("bot.freeze", map[string]any{"bot": "ft-1", "force_exit": true})
	if err != nil || res.Outputs["open_trades"] != 0 {
		t.Fatalf("freeze: %v %v", res.Outputs, err)
	}
	res, err = f.run("bot.status", map[string]any{"bot": "ft-1"})
	if err != nil || res.Outputs["state"] != "frozen" || res.Outputs["running"] != false {
		t.Fatalf("status: %v %v", res.Outputs, err)
	}
	res, err = f.run("bot.unfreeze", map[string]any{"bot": "ft-1"})
	if err != nil || res.Outputs["state"] != "running" || f.sim.State() != "running" {
		t.Fatalf("unfreeze: %v %v (bot %s)", res.Outputs, err, f.sim.State())
	}
}

func TestDeliverKeyAction(t *testing.T) {
	f := setup(t, freqtradesim.Options{}, apiPW)
	secret := "canary-new-secret-51c9"
	stored, _ := json.Marshal(map[string]string{"api_key": "NEWKEY123456", "secret": secret})
	f.secrets["binance/bot-1/api-key@2"] = stored
	if _, err := f.run("bot.freeze", map[string]any{"bot": "ft-1"}); err != nil {
		t.Fatal(err)
	}
	params := map[string]any{"bot": "ft-1", "exchange": "binance", "key_id": "NEWKEY123456", "secret_ref": "binance/bot-1/api-key@2"}
	res, err := f.run("bot.deliver_key", params)
	if err != nil {
		t.Fatal(err)
	}
	want := ibot.Credentials{APIKey: "NEWKEY123456", Secret: secret}.Fingerprint()
	if res.Outputs["delivered"] != true || res.Outputs["fingerprint"] != want || f.sim.CredentialsFingerprint() != want {
		t.Fatalf("outputs %v, bot loaded %s, want %s", res.Outputs, f.sim.CredentialsFingerprint(), want)
	}
	if !f.sim.SecretsFileWas0600() || f.sim.State() != "stopped" {
		t.Fatalf("0600=%v state=%s", f.sim.SecretsFileWas0600(), f.sim.State())
	}
	b, _ := json.Marshal(res)
	if strings.Contains(string(b), secret) || strings.Contains(res.Summary, secret) {
		t.Fatalf("result carries the secret: %s", b)
	}
	// Same key again (a retry or a replay): success, same fingerprint.
	res2, err := f.run("bot.deliver_key", params)
	if err != nil || res2.Outputs["fingerprint"] != want {
		t.Fatalf("second delivery: %v %v", res2.Outputs, err)
	}
}

func TestDeliverKeyRefusesAMismatchedOrMissingSecret(t *testing.T) {
	f := setup(t, freqtradesim.Options{}, apiPW)
	stored, _ := json.Marshal(map[string]string{"api_key": "OTHERKEY9999", "secret": "s"})
	f.secrets["ref"] = stored
	_, err := f.run("bot.deliver_key", map[string]any{"bot": "ft-1", "exchange": "binance", "key_id": "NEWKEY123456", "secret_ref": "ref"})
	if activities.ErrorType(err) != activities.ErrInvalidParams || !nonRetryable(err) {
		t.Fatalf("mismatch: %v", err)
	}
	_, err = f.run("bot.deliver_key", map[string]any{"bot": "ft-1", "exchange": "binance", "key_id": "K", "secret_ref": "absent"})
	if activities.ErrorType(err) != activities.ErrNotFound {
		t.Fatalf("missing secret: %v", err)
	}
	if f.sim.Reloads() != 0 || f.sim.CredentialsFingerprint() != "" {
		t.Fatal("the bot was touched")
	}
	_, err = f.run("bot.deliver_key", map[string]any{"bot": "ft-1", "exchange": "binance", "key_id": "K"})
	if activities.ErrorType(err) != activities.ErrInvalidParams {
		t.Fatalf("missing param: %v", err)
	}
}

func TestErrorsAreClassifiedForRetries(t *testing.T) {
	f := setup(t, freqtradesim.Options{}, "wrong-password")
	_, err := f.run("bot.freeze", map[string]any{"bot": "ft-1"})
	if activities.ErrorType(err) != activities.ErrAuthentication || !nonRetryable(err) {
		t.Fatalf("bad password: %v", err)
	}
	_, err = f.run("bot.status", map[string]any{"bot": "nobody"})
	if activities.ErrorType(err) != activities.ErrInvalidParams || !nonRetryable(err) {
		t.Fatalf("unknown bot: %v", err)
	}

	g := setup(t, freqtradesim.Options{InitialState: "stopped"}, apiPW)
	for i := 0; i < 5; i++ {
		if _, err := g.run("bot.unfreeze", map[string]any{"bot": "ft-1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := g.run("bot.freeze", map[string]any{"bot": "ft-1"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = g.run("bot.unfreeze", map[string]any{"bot": "ft-1"})
	var ae *temporal.ApplicationError
	if activities.ErrorType(err) != activities.ErrRateLimited || !errors.As(err, &ae) || ae.NextRetryDelay() <= 0 {
		t.Fatalf("rate limit: %v", err)
	}
}

func TestSpecsDeclareSideEffectsAndCompensations(t *testing.T) {
	f := setup(t, freqtradesim.Options{}, apiPW)
	want := map[string]runbooks.SideEffect{
		"bot.freeze": runbooks.Reversible, "bot.unfreeze": runbooks.Reversible,
		"bot.status": runbooks.ReadOnly, "bot.deliver_key": runbooks.Irreversible,
	}
	for name, se := range want {
		s, ok := f.reg.Action(name)
		if !ok || s.SideEffect != se {
			t.Fatalf("%s: %v %v", name, ok, s.SideEffect)
		}
		if s.Compensation != nil {
			if _, ok := f.reg.Action(s.Compensation.Action); !ok {
				t.Fatalf("%s compensates with unknown %s", name, s.Compensation.Action)
			}
		}
	}
	if s, _ := f.reg.Action("bot.freeze"); s.Compensation == nil || s.Compensation.Action != "bot.unfreeze" {
		t.Fatal("bot.freeze must be undone by bot.unfreeze")
	}
}

func nonRetryable(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.NonRetryable()
}
