package botfactory_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/botfactory"
	"github.com/keyresponse/runbook/integrations/bot/freqtrade/freqtradesim"
)

type mapSecrets map[string]string

func (m mapSecrets) Get(_ context.Context, ref string) ([]byte, error) {
	v, ok := m[ref]
	if !ok {
		return nil, errors.New("not found")
	}
	return []byte(v), nil
}

func TestFreqtradeFromConfigWithPasswordFromEnvOrStore(t *testing.T) {
	sim, err := freqtradesim.New(freqtradesim.Options{Password: "pw-from-somewhere"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	t.Setenv("BOT1_FT_PASSWORD", "pw-from-somewhere")
	cfgs := []bot.BotConfig{
		{ID: "env-bot", Kind: bot.KindFreqtrade, URL: sim.URL(), Username: "freqtrader", PasswordEnv: "BOT1_FT_PASSWORD"},
		{ID: "store-bot", Kind: bot.KindFreqtrade, URL: sim.URL() + "/api/v1", Username: "freqtrader", PasswordRef: "bots/ft-password"},
	}
	resolve, err := botfactory.Resolver(cfgs, botfactory.Deps{Secrets: mapSecrets{"bots/ft-password": "pw-from-somewhere"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"env-bot", "store-bot"} {
		c, err := resolve(id)
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.Status(context.Background())
		if err != nil || st.State != bot.Running {
			t.Fatalf("%s: status %+v, %v", id, st, err)
		}
		again, _ := resolve(id)
		if again != c {
			t.Fatalf("%s: resolver built a second controller", id)
		}
	}
	if _, err := resolve("nobody"); bot.KindOf(err) != bot.KindInvalid {
		t.Fatalf("unknown bot: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []bot.BotConfig{
		{ID: "a.b", Kind: bot.KindFreqtrade, URL: "http://x", Username: "u", PasswordEnv: "E"},
		{ID: "a", Kind: bot.KindFreqtrade, URL: "http://x", Username: "u"}, // no password source
		{ID: "a", Kind: bot.KindWebhook, URL: "https://x"},                 // no signing key source
		{ID: "a", Kind: bot.KindNATS, EngineKeyEnv: "E"},                   // no public key
		{ID: "a", Kind: "hummingbot"},
	}
	for _, c := range bad {
		if _, err := botfactory.Resolver([]bot.BotConfig{c}, botfactory.Deps{}); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	dup := bot.BotConfig{ID: "a", Kind: bot.KindWebhook, URL: "https://x", SigningKeyEnv: "K"}
	if _, err := botfactory.Resolver([]bot.BotConfig{dup, dup}, botfactory.Deps{}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate id: %v", err)
	}
}

func TestMissingSecretIsReportedNotGuessed(t *testing.T) {
	resolve, err := botfactory.Resolver([]bot.BotConfig{{ID: "w", Kind: bot.KindWebhook, URL: "https://bot.invalid/hook",
		SigningKeyEnv: "RUNBOOK_TEST_UNSET_KEY_VAR"}}, botfactory.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resolve("w"); err == nil || !strings.Contains(err.Error(), "RUNBOOK_TEST_UNSET_KEY_VAR") {
		t.Fatalf("err = %v, want a message naming the variable", err)
	}
}
