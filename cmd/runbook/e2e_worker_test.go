package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	ibot "github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/freqtrade/freqtradesim"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/natsdev"
	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/integrations/sms/twiliosim"
	"github.com/keyresponse/runbook/integrations/temporalcodec"
	"github.com/keyresponse/runbook/integrations/temporaldev"
	"github.com/keyresponse/runbook/workflows"
)

// externalStack is Temporal, NATS, the exchange simulator, a freqtrade bot
// and an SMS sink running on their own, as a production worker meets them.
type externalStack struct {
	home     string
	temporal *temporaldev.Server
	nats     *natsdev.Server
	exchange *devExchange
	bot      *freqtradesim.Sim
	sms      *twiliosim.Server
	config   string
	env      []string
}

func startExternalStack(t *testing.T) *externalStack {
	t.Helper()
	ctx := context.Background()
	s := &externalStack{home: t.TempDir()}
	var err error
	if s.nats, err = natsdev.Start(natsdev.Options{StoreDir: filepath.Join(s.home, "nats")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.nats.Stop)
	if s.temporal, err = temporaldev.Start(temporaldev.Options{DBFile: filepath.Join(s.home, "temporal.db")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.temporal.Stop() })
	if _, err := temporalcodec.LoadOrCreateKeyFile(filepath.Join(s.home, "payload-keys"), "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureDevAuditKeys(s.home); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureDevKeyring(s.home); err != nil {
		t.Fatal(err)
	}
	store, err := secrets.OpenFile(filepath.Join(s.home, "secrets"), "")
	if err != nil {
		t.Fatal(err)
	}
	if s.exchange, err = startDevExchange(ctx, 0, "bot-1", store, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.exchange.close)
	acct, _ := s.exchange.demo.Find("binance")
	secretsFile := filepath.Join(s.home, "bot-secrets.json")
	if err := writeFreqtradeSecrets(secretsFile, acct.Bot.ID, acct.Bot.Secret); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, "bots/bot-1/api-password", []byte("pw-e2e-1"), nil); err != nil {
		t.Fatal(err)
	}
	adapter, _ := xchg.Open(xchg.Config{Exchange: "binance", BaseURL: acct.BaseURL})
	s.bot, err = freqtradesim.New(freqtradesim.Options{
		BotName: "bot-1", Password: "pw-e2e-1", InitialState: "running", SecretsConfigPath: secretsFile, Exchange: "binance",
		// A slow reload keeps bot.deliver_key in flight long enough to kill
		// the worker between key creation and delivery.
		ReloadDelay: 4 * time.Second,
		TradeEvery:  time.Second,
		Trader: func(ctx context.Context, c ibot.Credentials) error {
			_, err := adapter.(xchg.TraderProvider).Trader(xchg.Credential{APIKey: c.APIKey, Secret: c.Secret}, demoBotIP).PlaceOrder(ctx, "BTC/USDT", "buy", 0.001, 1000)
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.bot.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.bot.Close() })
	sid, token := "AC"+randomHex(16), randomHex(16)
	if s.sms, err = twiliosim.Start(twiliosim.Config{AccountSID: sid, AuthToken: token}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.sms.Close() })

	// The documented config file; secrets only as references.
	s.config = filepath.Join(s.home, "runbook.yaml")
	// Everything is on loopback, which config check accepts. The roster is
	// one responder whose key is where the CLI looks by default; the engine
	// key signs the consumer's starts.
	engineKey := filepath.Join(s.home, "engine-key")
	if _, err := provisionEngineKey(engineKey); err != nil {
		t.Fatal(err)
	}
	op, err := operatorkey.Generate(devOperatorKey(s.home), "oncall")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`home: %s
operators: [{name: oncall, keys: [%q], roles: [responder]}]
engine_key_file: %s
temporal: {address: %q, namespace: default, task_queue: ext}
nats: {url: %q}
events: {keys_file: %s}
audit: {keys_file: %s}
secrets: {backend: file, dir: %s}
exchanges:
  - {name: binance, exchange: binance, base_url: %q, management_key_ref: binance/management, engine_ips: [127.0.0.1]}
bots:
  - id: bot-1
    kind: freqtrade
    url: %q
    account: binance
    sub_account: %q
    ips: [%s]
    username: freqtrader
    password_ref: bots/bot-1/api-password
    secrets_file_path: %s
    options: {verify_from: %s}
oncall:
  people: [{name: dana, phone: "+15550100007", role: primary}]
  twilio: {from: "+15550109999", base_url: %q}
`, s.home, operatorkey.AuthorizedKey(op.PublicKey(), "oncall"), engineKey, s.temporal.HostPort(), s.nats.URL(), keyringFile(s.home), auditKeysFile(s.home), filepath.Join(s.home, "secrets"), acct.BaseURL,
		s.bot.URL(), subAccountRef("binance", acct.Sub), demoBotIP, secretsFile, demoBotIP, s.sms.URL())
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := (cli{t: t, home: s.home}).run("config", "check", s.config); r.code != 0 {
		t.Fatalf("config check: %s%s", r.stdout, r.stderr)
	}
	s.env = []string{"RUNBOOK_PAYLOAD_KEY_FILE=" + filepath.Join(s.home, "payload-keys"), "TWILIO_ACCOUNT_SID=" + sid, "TWILIO_AUTH_TOKEN=" + token}
	return s
}

// startWorker runs `runbook worker --config FILE` as a child process.
func (s *externalStack) startWorker(t *testing.T) *devProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(s.env, "RUNBOOK_E2E_CHILD=1", "RUNBOOK_E2E_ARGS="+strings.Join([]string{"worker", "--config", s.config}, "\x1f"))...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &devProcess{cmd: cmd, out: out}
	t.Cleanup(p.kill)
	waitUntil(t, "the worker is up", func() bool { return strings.Contains(out.String(), "worker on ") })
	return p
}

// Given Temporal, NATS, the exchange, a freqtrade bot and an SMS sink
// running on their own, and `runbook worker` configured only by the
// documented config file and environment,
// When on-call runs contain-key-breach and the worker is killed with
// SIGKILL after the new key was created, before the bot had it, then
// started again,
// Then the incident completes with exactly one new key, delivered to the
// bot and verified, and the old key revoked.
func TestE2E_WorkerKilledMidBreachEndsWithOneKey(t *testing.T) {
	s := startExternalStack(t)
	for _, kv := range s.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	worker := s.startWorker(t)
	c := cli{t: t, home: s.home}
	run := func(args ...string) cliResult { return c.run(append([]string{"--config", s.config}, args...)...) }
	sim := s.exchange.sim
	oldKey, _ := s.exchange.demo.Find("binance")

	// When
	const id = "kill-test:bot-1"
	if r := run("exec", "contain-key-breach", "--input", "bot=bot-1", "--id", id); r.code != 0 {
		t.Fatalf("exec: %s %s", r.stdout, r.stderr)
	}
	// The new key step has finished; the bot's slow reload keeps deliver
	// in flight (or not yet started): kill now.
	waitUntil(t, "the new key is created and stored", func() bool {
		st, err := c.stateWith(s.config, id)
		return err == nil && stepByID(st, "new_key").Status == workflows.StatusSucceeded
	})
	_ = worker.cmd.Process.Signal(syscall.SIGKILL)
	_ = worker.cmd.Wait()
	deliveredBeforeKill := s.bot.Reloads()
	worker = s.startWorker(t)

	// Then
	var final workflows.IncidentState
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		st, err := c.stateWith(s.config, id)
		if err == nil && st.EndedAt != nil {
			final = st
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if final.EndedAt == nil {
		t.Fatalf("incident did not end after the restart\n--- worker ---\n%s", worker.out.String())
	}
	if final.Status != workflows.StatusSucceeded {
		t.Fatalf("incident ended %s: %s\n--- worker ---\n%s", final.Status, summary(final), worker.out.String())
	}
	creates := sim.Calls(exchangesim.CallFilter{Exchange: "binance", Op: "create_key", OnlyOK: true})
	if len(creates) != 1 {
		t.Errorf("%d keys created, want exactly 1", len(creates))
	}
	newKeyID, _ := stepByID(final, "new_key").Outputs["key_id"].(string)
	var live []string
	for _, k := range sim.Keys("binance", oldKey.Sub.ID, false) {
		if !k.Revoked {
			live = append(live, k.ID)
		}
	}
	if len(live) != 1 || live[0] != newKeyID {
		t.Errorf("live keys on the bot's sub-account %v, want only the new key %s", live, newKeyID)
	}
	if s.bot.LoadedAPIKey() != newKeyID {
		t.Errorf("bot has key %s, want the new key %s", s.bot.LoadedAPIKey(), newKeyID)
	}
	if k, _ := sim.Key("binance", oldKey.Bot.ID); !k.Revoked {
		t.Error("old key not revoked")
	}
	if got := stepByID(final, "verify").Status; got != workflows.StatusSucceeded {
		t.Errorf("verify: %s", got)
	}
	if len(s.sms.Messages()) == 0 {
		t.Error("no SMS reached the Twilio sink through the configured worker")
	}
	t.Logf("bot reloads when the worker was killed: %d; deliver attempts recorded: %d", deliveredBeforeKill, stepByID(final, "deliver").Attempts)
}

// stateWith reads an incident's state with the given config file.
func (c cli) stateWith(config, id string) (workflows.IncidentState, error) {
	var st workflows.IncidentState
	r := c.run("--config", config, "status", id, "-o", "json")
	if r.code != 0 {
		return st, fmt.Errorf("%s", r.stderr)
	}
	return st, jsonUnmarshal(r.stdout, &st)
}
