// Package config is the engine's configuration file: one YAML document for
// Temporal, NATS, event signing, limits, runbook directories, approvers,
// the operator roster and roles, exchanges, bots, the secret store and the
// on-call roster, with
// environment overrides (RUNBOOK_*). Secrets are never values in this file:
// only references (a secret store name, an environment variable name, a
// file path).
package config

import (
	"time"

	"github.com/keyresponse/runbook/runbooks/authz"
)

// Config is the whole file. See docs/configuration.md and
// deploy/config/runbook.example.yaml.
type Config struct {
	// Home is the state directory (runbook dev's files, the encrypted file
	// secret store by default).
	Home     string   `yaml:"home,omitempty"`
	Temporal Temporal `yaml:"temporal,omitempty"`
	NATS     NATS     `yaml:"nats,omitempty"`
	Events   Events   `yaml:"events,omitempty"`
	Audit    Audit    `yaml:"audit,omitempty"`
	Limits   Limits   `yaml:"limits,omitempty"`
	Streams  Streams  `yaml:"streams,omitempty"`
	Runbooks Runbooks `yaml:"runbooks,omitempty"`
	// Operators is the roster: who may act, with their keys and roles
	// (docs/security.md). Roles adds roles beside authz.BuiltinRoles.
	Operators []Operator            `yaml:"operators,omitempty"`
	Roles     map[string]authz.Role `yaml:"roles,omitempty"`
	// EngineKeyFile is the engine's own OpenSSH ed25519 private key (mode
	// 0600): it signs the starts of event, fleet and drill incidents and
	// the SMS replies it relays. Required when the trigger consumer runs.
	EngineKeyFile string `yaml:"engine_key_file,omitempty"`
	Authz         Authz  `yaml:"authz,omitempty"`
	// Approvers is the old name list, replaced by operators with roles:
	// kept only so a config that still has it is refused with the way to
	// migrate rather than as an unknown field.
	Approvers any        `yaml:"approvers,omitempty"`
	HTTP      HTTP       `yaml:"http,omitempty"`
	Metrics   Metrics    `yaml:"metrics,omitempty"`
	Secrets   Secrets    `yaml:"secrets,omitempty"`
	Exchanges []Exchange `yaml:"exchanges,omitempty"`
	Bots      []Bot      `yaml:"bots,omitempty"`
	Oncall    Oncall     `yaml:"oncall,omitempty"`
	// AllowInsecure lets a lab run what `config check` and the worker
	// otherwise refuse (see safety.go): temporal_plaintext, nats_plaintext,
	// vault_http, no_operators. Env RUNBOOK_ALLOW_INSECURE (comma-separated)
	// replaces it.
	AllowInsecure []string `yaml:"allow_insecure,omitempty"`

	// Alertmanager is the authenticated webhook bridge (alertmanager.go).
	Alertmanager Alertmanager `yaml:"alertmanager,omitempty"`
}

// Operator is one roster entry (authz.Operator: name, keys, phone, roles)
// and where its TOTP secret is, for gates with second_factor: totp.
type Operator struct {
	authz.Operator `yaml:",inline"`
	// TOTPFile holds the operator's base32 TOTP secret (mode 0600), the one
	// enrolled in their authenticator app.
	TOTPFile string `yaml:"totp_file,omitempty"`
}

// Authz tunes the checking of signed statements.
type Authz struct {
	// MaxAge bounds a statement's validity (expires - issued_at); default
	// authz.DefaultMaxAge.
	MaxAge Duration `yaml:"max_age,omitempty"`
}

// AuthzOperators are the roster entries as authz takes them.
func (c *Config) AuthzOperators() []authz.Operator {
	out := make([]authz.Operator, len(c.Operators))
	for i, o := range c.Operators {
		out[i] = o.Operator
	}
	return out
}

// Temporal is how workers and the CLI reach the Temporal frontend.
type Temporal struct {
	Address   string `yaml:"address,omitempty"`
	Namespace string `yaml:"namespace,omitempty"`
	TaskQueue string `yaml:"task_queue,omitempty"`
	TLS       *TLS   `yaml:"tls,omitempty"`
	// APIKeyEnv names the environment variable holding a Temporal Cloud API key.
	APIKeyEnv string `yaml:"api_key_env,omitempty"`
	// SearchAttributes sets RunbookName, BotID, Exchange, Severity and
	// IncidentTrigger on incidents (default true; the namespace must define
	// them: deploy/scripts/temporal-setup.sh does).
	SearchAttributes *bool `yaml:"search_attributes,omitempty"`
}

// TLS for a client connection (Temporal, NATS): the CA that signs the
// server's certificate (system roots when empty), the name to verify it
// against, and a client certificate for mTLS when cert and key are given.
type TLS struct {
	CAFile     string `yaml:"ca_file,omitempty"`
	CertFile   string `yaml:"cert_file,omitempty"`
	KeyFile    string `yaml:"key_file,omitempty"`
	ServerName string `yaml:"server_name,omitempty"`
}

// NATS connection; exactly one authentication method at most. Each is
// applied by the worker and the CLI (cmd/runbook/natsconn.go) or the process
// refuses to start naming the setting.
type NATS struct {
	URL string `yaml:"url,omitempty"`
	// TLS makes the connection TLS (required of the server) even on a
	// nats:// URL.
	TLS         *TLS   `yaml:"tls,omitempty"`
	CredsFile   string `yaml:"creds_file,omitempty"`
	NKeyFile    string `yaml:"nkey_file,omitempty"`
	User        string `yaml:"user,omitempty"`
	PasswordEnv string `yaml:"password_env,omitempty"`
	TokenEnv    string `yaml:"token_env,omitempty"`
}

// Audit is where the audit-record keys come from (docs/security.md, "The audit trail"):
// a keyring file or the name of an environment variable holding one, never
// the secret itself. `runbook worker` refuses to start without one.
type Audit struct {
	// KeysFile holds "id=base64secret" lines (mode 0600), the format of
	// events.keys_file; env RUNBOOK_AUDIT_KEYS_FILE.
	KeysFile string `yaml:"keys_file,omitempty"`
	// KeysEnv names an environment variable holding the keyring.
	KeysEnv string `yaml:"keys_env,omitempty"`
	// SigningKeyID is the key new records are signed with (required when
	// the keyring holds several: key rotation); env RUNBOOK_AUDIT_KEY_ID.
	SigningKeyID string `yaml:"signing_key_id,omitempty"`
}

// Events configure breach-event authenticity.
type Events struct {
	// KeysFile holds "id=base64secret" lines (mode 0600); several ids at
	// once allow key rotation.
	KeysFile string `yaml:"keys_file,omitempty"`
	// Window accepts events whose timestamp is within this of arrival.
	Window Duration `yaml:"window,omitempty"`
	// AllowUnsigned lists subject prefixes/patterns on which unsigned
	// events are accepted (e.g. a drill bot on an authenticated account).
	AllowUnsigned []string `yaml:"allow_unsigned,omitempty"`
	// Consumer runs the trigger consumer in this worker (default true).
	Consumer *bool `yaml:"consumer,omitempty"`
	// Publishers are the named publishers with a lane of their own
	// (docs/operations.md, "Publisher lanes"): each has its own NATS
	// account whose import maps its breach.> onto lane.<name>.breach.>
	// (the NATS server configuration is the operator's; deploy/ and
	// events/natsauth show it), its own stream and its own share of the
	// trigger consumer. `runbook dev` provisions them (and one named
	// monitor when none is listed).
	Publishers []Publisher `yaml:"publishers,omitempty"`
}

// Publisher is one publisher lane: name, its stream's limits, and the
// most events a second the consumer takes from it.
type Publisher struct {
	Name     string  `yaml:"name"`
	MaxMsgs  int64   `yaml:"max_msgs,omitempty"`
	MaxBytes int64   `yaml:"max_bytes,omitempty"`
	Rate     float64 `yaml:"rate,omitempty"`
	Burst    int     `yaml:"burst,omitempty"`
}

// Limits is the blast-radius cap on automatic incidents.
type Limits struct {
	Window      Duration `yaml:"window,omitempty"`
	Global      int      `yaml:"global,omitempty"`
	PerExchange int      `yaml:"per_exchange,omitempty"`
}

// Runbooks lists extra directories of runbook files.
type Runbooks struct {
	Dirs []string `yaml:"dirs,omitempty"`
}

// HTTP restricts the http.request action.
type HTTP struct {
	AllowedHosts []string `yaml:"allowed_hosts,omitempty"`
}

// Metrics is where /metrics, /healthz and /readyz are served.
type Metrics struct {
	Addr string `yaml:"addr,omitempty"`
}

// Secrets selects the secret store backend.
type Secrets struct {
	// Backend is file (default), vault or nats-kv.
	Backend string `yaml:"backend,omitempty"`
	// Dir and KeyFile configure the encrypted file store (default: <home>/secrets).
	Dir     string `yaml:"dir,omitempty"`
	KeyFile string `yaml:"key_file,omitempty"`
	// Vault / OpenBao KV v2.
	VaultAddress  string `yaml:"vault_address,omitempty"`
	VaultMount    string `yaml:"vault_mount,omitempty"`
	VaultTokenEnv string `yaml:"vault_token_env,omitempty"`
	// JetStream KV bucket (values encrypted with KeyFile).
	Bucket string `yaml:"bucket,omitempty"`
}

// Exchange is one exchange account the engine manages keys on.
type Exchange struct {
	// Name is how bots refer to this account.
	Name string `yaml:"name"`
	// Exchange is binance, okx or bybit.
	Exchange string `yaml:"exchange"`
	// BaseURL points at a simulator; empty means the real exchange.
	BaseURL string `yaml:"base_url,omitempty"`
	// ManagementKeyRef names the management credential in the secret store.
	ManagementKeyRef string `yaml:"management_key_ref"`
	// EngineIPs are the engine's egress IPs towards this exchange (the
	// management key's whitelist); a leaked key keeps them until revoked so
	// the engine can cancel the bot's orders with it.
	EngineIPs []string `yaml:"engine_ips,omitempty"`
	// Options are adapter-specific.
	Options map[string]any `yaml:"options,omitempty"`
}

// Bot is one trading bot the engine can freeze and re-key.
type Bot struct {
	ID string `yaml:"id"`
	// Kind is freqtrade, webhook or nats.
	Kind string `yaml:"kind"`
	URL  string `yaml:"url,omitempty"`
	// Account names an Exchange entry; SubAccount is the exchange's
	// sub-account the bot's key lives on.
	Account    string `yaml:"account"`
	SubAccount string `yaml:"sub_account,omitempty"`
	KeyID      string `yaml:"key_id,omitempty"`
	// CredentialRef names the bot's API key in the secret store (default
	// <exchange>/<sub_account>/api-key); new keys are stored there too.
	CredentialRef string   `yaml:"credential_ref,omitempty"`
	IPs           []string `yaml:"ips,omitempty"`
	// Credentials for the bot's control API (freqtrade): the user name, and
	// the password as an environment variable or a secret store name, never
	// the value.
	Username        string `yaml:"username,omitempty"`
	PasswordEnv     string `yaml:"password_env,omitempty"`
	PasswordRef     string `yaml:"password_ref,omitempty"`
	SecretsFilePath string `yaml:"secrets_file_path,omitempty"`
	// Options are kind-specific: signing_key_ref / signing_key_env
	// (webhook), public_key, engine_key_ref / engine_key_env, subject (nats),
	// verify_from (a local address the worker may call the exchange from to
	// test the bot's new key as the bot would).
	Options map[string]string `yaml:"options,omitempty"`
}

// Oncall is who gets the SMS and in which order.
type Oncall struct {
	People     []Person `yaml:"people,omitempty"`
	Escalation []string `yaml:"escalation,omitempty"`
	AckTimeout Duration `yaml:"ack_timeout,omitempty"`
	Twilio     Twilio   `yaml:"twilio,omitempty"`
}

// Person is one on-call member.
type Person struct {
	Name  string `yaml:"name"`
	Phone string `yaml:"phone"`
	Role  string `yaml:"role,omitempty"`
}

// Twilio is the SMS provider account; the auth token is a reference.
type Twilio struct {
	AccountSID          string `yaml:"account_sid,omitempty"`
	AuthTokenRef        string `yaml:"auth_token_ref,omitempty"`
	From                string `yaml:"from,omitempty"`
	MessagingServiceSID string `yaml:"messaging_service_sid,omitempty"`
	// BaseURL points at a local Twilio-speaking sink (dev, tests).
	BaseURL string `yaml:"base_url,omitempty"`
}

// Duration is a YAML duration string ("5m", "1h").
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
