package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keyresponse/runbook/cmd/runbook/config"
	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/workflows"
)

// Given the engine (`runbook dev`: Temporal, NATS, worker, trigger
// consumer) as a child process, and the exchange simulator and the bots in
// this process so they outlive it,
// When a key_leaked event arrives and the engine is killed with SIGKILL at
// a boundary of the breach runbook — right after the lockout reached the
// exchange, right after the new key was created (before the activity
// could report it), right after the bot got its new key, right after the
// old key was revoked — and started again on the same state,
// Then the incident completes, the sub-account holds exactly one live key
// (the new one; a create_key retried after the kill finds the key it made
// by its label instead of making a second), the leaked key is revoked, and
// the audit trail shows the step that was cut off retried.
func TestFault_EngineKilledAtStepBoundaries(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills engine processes")
	}
	boundaries := []struct {
		name string
		op   string // the exchange call after which the engine dies ("" = bot delivery)
	}{
		{"after-lockout", "set_ip_whitelist"},
		{"mid-create-key", "create_key"},
		{"after-deliver", ""},
		{"after-revoke", "revoke_key"},
	}
	k := startKillableEngine(t, len(boundaries))
	ex, bots, cfgFile, start := k.ex, k.bots, k.cfgFile, k.start
	dev := start()
	c := cli{t: t, home: k.home}

	for i, bd := range boundaries {
		bot := bots[i]
		id := ingest.IncidentID(benchRunbook, bot.ID, bot.Key.ID)
		t.Run(bd.name, func(t *testing.T) {
			ex.sim.ResetCalls()
			if r := c.run("--config", cfgFile, "event", "send", "--bot", bot.ID, "--kind", "key_leaked", "--exchange", benchExchange,
				"--key-id", bot.Key.ID, "--severity", "high"); r.code != 0 {
				t.Fatalf("event send: %s", r.stderr)
			}
			// Wait for the boundary, then SIGKILL.
			deadline := time.Now().Add(60 * time.Second)
			for {
				if bd.op == "" {
					if _, d := bot.State.times(); !d.IsZero() {
						break
					}
				} else if len(ex.sim.Calls(exchangesim.CallFilter{Exchange: benchExchange, Op: bd.op, OnlyOK: true})) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("never reached %s:\n%s", bd.name, dev.out.String())
				}
				time.Sleep(time.Millisecond)
			}
			dev.kill()
			dev = start()
			st := c.waitFor(id, "the incident to end", func(st workflows.IncidentState) bool { return st.EndedAt != nil })
			if st.Status != workflows.StatusSucceeded {
				t.Fatalf("incident %s: %s", id, summary(st))
			}
			keys := ex.sim.Keys(benchExchange, bot.Sub.ID, true)
			var live []string
			oldRevoked := false
			for _, k := range keys {
				if !k.Revoked {
					live = append(live, k.ID)
				}
				if k.ID == bot.Key.ID && k.Revoked {
					oldRevoked = true
				}
			}
			// Exactly one live key. A kill between the exchange creating
			// the key and the secret reaching the secret store loses the
			// secret for good (only the create response carries it), so
			// the retry finds that key by its label, revokes it as an
			// orphan and makes one more: at most one orphan, revoked, and
			// the step says so.
			orphan, _ := stepByID(st, "new_key").Outputs["replaced_orphan"].(string)
			wantKeys := 2
			if orphan != "" {
				wantKeys = 3
			}
			if len(live) != 1 || !oldRevoked || len(keys) != wantKeys {
				t.Fatalf("sub-account keys after the kill: %d keys (want %d; replaced orphan %q), live %v, leaked key revoked %v",
					len(keys), wantKeys, orphan, live, oldRevoked)
			}
			if orphan != "" && bd.op != "create_key" {
				t.Errorf("an orphan key at boundary %s, where the secret was already stored", bd.name)
			}
			if _, d := bot.State.times(); d.IsZero() {
				t.Fatalf("the bot never got its new key")
			}
			// The audit trail survived the kill and shows the cut-off step
			// retried (the create_key attempt the kill interrupted).
			if r := c.run("--config", cfgFile, "audit", "verify", id); r.code != 0 {
				t.Errorf("audit verify after the kill: %s %s", r.stdout, r.stderr)
			}
			if bd.op == "create_key" {
				if s := stepByID(st, "new_key"); s.Attempts < 2 {
					t.Errorf("new_key attempts %d: the interrupted attempt should have been retried", s.Attempts)
				}
				r := c.run("--config", cfgFile, "audit", id, "--output", "json")
				retried := false
				for _, line := range strings.Split(r.stdout, "\n") {
					if strings.Contains(line, `"step.retried"`) && strings.Contains(line, `"new_key"`) {
						retried = true
					}
				}
				if !retried {
					t.Errorf("the audit trail has no step.retried for new_key:\n%s", r.stdout)
				}
			}
		})
	}
}

// startEngineProcess starts `runbook dev --home home args...` as a child
// (the test binary; see TestMain) and waits for its endpoints file.
func startEngineProcess(t *testing.T, home string, args ...string) *devProcess {
	t.Helper()
	full := append([]string{"dev", "--home", home}, args...)
	_ = os.Remove(filepath.Join(home, "dev.json"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RUNBOOK_E2E_CHILD=1", "RUNBOOK_E2E_ARGS="+strings.Join(full, "\x1f"))
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &devProcess{cmd: cmd, out: out}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(home, "dev.json")); err == nil {
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("runbook dev did not come up:\n%s", out.String())
	return nil
}

// killableEngine is the engine as a child process whose exchange simulator
// and bots live in the test process, so they outlive a SIGKILL.
type killableEngine struct {
	home    string
	ex      *devExchange
	bots    []*fleetBot
	cfgFile string
	keyring breach.Keyring
	tport   int
	nport   int
	start   func() *devProcess
}

func startKillableEngine(t *testing.T, nbots int) *killableEngine {
	t.Helper()
	home := t.TempDir()
	ctx := context.Background()
	store, err := secrets.OpenFile(filepath.Join(home, "secrets"), "")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := startDevExchange(ctx, 0, "main-bot", store, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ex.close)
	fl, err := startFleet()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fl.close)
	bots, setup, err := fl.seed(ctx, ex, store, "kill", nbots)
	if err != nil {
		t.Fatal(err)
	}
	// The engine's config: the simulator's Binance as an exchange account,
	// the bots as webhook bots.
	cfg := config.Config{Exchanges: []config.Exchange{{Name: benchExchange, Exchange: benchExchange,
		BaseURL: ex.sim.DialectURL(benchExchange), ManagementKeyRef: benchExchange + "/management", EngineIPs: []string{demoEngineIP}}}}
	for _, c := range setup.controllers {
		f := setup.facts[c.ID]
		cfg.Bots = append(cfg.Bots, config.Bot{ID: c.ID, Kind: string(c.Kind), URL: c.URL, Account: f.account,
			SubAccount: f.subAccount, KeyID: f.keyID, IPs: f.ips,
			Options: map[string]string{"signing_key_ref": c.SigningKeyRef, "verify_from": f.verifyFrom}})
	}
	cfgFile := filepath.Join(home, "engine.yaml")
	b, _ := yaml.Marshal(cfg)
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	if err := os.WriteFile(keyringFile(home), []byte("dev="+base64.StdEncoding.EncodeToString(secret)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tport, nport := freePort(t), freePort(t)
	start := func() *devProcess {
		return startEngineProcess(t, home, "--config", cfgFile, "--temporal-port", fmt.Sprint(tport), "--nats-port", fmt.Sprint(nport),
			"--exchangesim-port", "-1", "--demo-bot-port", "-1", "--http-port", "-1", "--alertmanager-port", "-1",
			"--max-auto-incidents", "0", "--max-auto-incidents-per-exchange", "0")
	}
	return &killableEngine{home: home, ex: ex, bots: bots, cfgFile: cfgFile, keyring: breach.Keyring{"dev": secret},
		tport: tport, nport: nport, start: start}
}
