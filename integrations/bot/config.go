package bot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Kind names a bot control transport.
type Kind string

const (
	KindFreqtrade Kind = "freqtrade" // freqtrade's REST API
	KindWebhook   Kind = "webhook"   // signed HTTP webhook
	KindNATS      Kind = "nats"      // NATS request/reply on bot.<id>.control
)

// BotConfig describes one bot. Secrets that authenticate the engine to the bot
// (freqtrade API password, webhook signing key, the engine's NaCl key) are
// named here by environment variable or secret-store reference, never
// written inline, and never taken from runbook params.
type BotConfig struct {
	ID   string `json:"id" yaml:"id"`
	Kind Kind   `json:"kind" yaml:"kind"`
	// URL: freqtrade's API base (http://127.0.0.1:8080, /api/v1 is added)
	// or the webhook endpoint. Unused for nats.
	URL string `json:"url,omitempty" yaml:"url,omitempty"`

	// freqtrade API user and where its password lives.
	Username    string `json:"username,omitempty" yaml:"username,omitempty"`
	PasswordEnv string `json:"password_env,omitempty" yaml:"password_env,omitempty"`
	PasswordRef string `json:"password_ref,omitempty" yaml:"password_ref,omitempty"`
	// SecretsConfigPath is the extra freqtrade config file holding only the
	// exchange credentials (freqtrade is started with
	// `--config main.json --config <this>` and merges them).
	SecretsConfigPath string `json:"secrets_config_path,omitempty" yaml:"secrets_config_path,omitempty"`

	// webhook HMAC-SHA256 signing key location.
	SigningKeyEnv string `json:"signing_key_env,omitempty" yaml:"signing_key_env,omitempty"`
	SigningKeyRef string `json:"signing_key_ref,omitempty" yaml:"signing_key_ref,omitempty"`

	// nats: the bot's NaCl box public key (base64, 32 bytes), the engine's
	// box private key location, and an optional subject override.
	PublicKey    string `json:"public_key,omitempty" yaml:"public_key,omitempty"`
	EngineKeyEnv string `json:"engine_key_env,omitempty" yaml:"engine_key_env,omitempty"`
	EngineKeyRef string `json:"engine_key_ref,omitempty" yaml:"engine_key_ref,omitempty"`
	Subject      string `json:"subject,omitempty" yaml:"subject,omitempty"`

	// Exchange and Account say which exchange account the bot trades on;
	// deliveries of credentials for another exchange are refused.
	Exchange string `json:"exchange,omitempty" yaml:"exchange,omitempty"`
	Account  string `json:"account,omitempty" yaml:"account,omitempty"`

	// Timeout bounds one call to the bot (default 10s).
	Timeout time.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
}

// CallTimeout is Timeout or its default.
func (c BotConfig) CallTimeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 10 * time.Second
}

// Validate checks what every kind needs.
func (c BotConfig) Validate() error {
	if c.ID == "" || strings.ContainsAny(c.ID, " .*>\t\r\n") {
		return fmt.Errorf("bot id %q: empty or contains a space or one of . * >", c.ID)
	}
	switch c.Kind {
	case KindFreqtrade:
		if c.URL == "" || c.Username == "" {
			return fmt.Errorf("bot %s: freqtrade needs url and username", c.ID)
		}
		if c.PasswordEnv == "" && c.PasswordRef == "" {
			return fmt.Errorf("bot %s: freqtrade needs password_env or password_ref", c.ID)
		}
	case KindWebhook:
		if c.URL == "" {
			return fmt.Errorf("bot %s: webhook needs url", c.ID)
		}
		if c.SigningKeyEnv == "" && c.SigningKeyRef == "" {
			return fmt.Errorf("bot %s: webhook needs signing_key_env or signing_key_ref", c.ID)
		}
	case KindNATS:
		if c.PublicKey == "" {
			return fmt.Errorf("bot %s: nats needs the bot's public_key", c.ID)
		}
		if c.EngineKeyEnv == "" && c.EngineKeyRef == "" {
			return fmt.Errorf("bot %s: nats needs engine_key_env or engine_key_ref", c.ID)
		}
	default:
		return fmt.Errorf("bot %s: kind %q is not one of freqtrade, webhook, nats", c.ID, c.Kind)
	}
	return nil
}

// CheckExchange refuses credentials for an exchange other than the bot's.
func (c BotConfig) CheckExchange(cred Credentials) error {
	if c.Exchange != "" && cred.Exchange != "" && !strings.EqualFold(c.Exchange, cred.Exchange) {
		return Errorf(KindInvalid, c.ID, "deliver", "credentials are for %s, the bot trades on %s", cred.Exchange, c.Exchange)
	}
	if cred.Empty() {
		return Errorf(KindInvalid, c.ID, "deliver", "credentials lack key or secret")
	}
	return nil
}

// LoadSecret reads an engine-side secret from the environment variable env
// or, failing that, from the secret store reference ref.
func LoadSecret(ctx context.Context, store SecretReader, env, ref string) ([]byte, error) {
	if env != "" {
		if v, ok := os.LookupEnv(env); ok && v != "" {
			return []byte(v), nil
		}
		if ref == "" {
			return nil, fmt.Errorf("environment variable %s is not set", env)
		}
	}
	if ref == "" {
		return nil, errors.New("no environment variable or secret reference given")
	}
	if store == nil {
		return nil, fmt.Errorf("secret %s: no secret store configured", ref)
	}
	v, err := store.Get(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", ref, err)
	}
	return v, nil
}
