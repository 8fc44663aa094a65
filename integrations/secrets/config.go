package secrets

// Config selects and configures a secret store backend. It mirrors the
// secrets section of the engine config (cmd/runbook/config.Secrets) as a
// plain struct so this package does not import the CLI; the factory that
// turns it into a Store is integrations/secrets/backend.Open (the backends
// import this package, so the factory cannot live here). Its fields match
// config.Secrets one for one (names, order, types), so the CLI converts with
// secrets.Config(cfg.Secrets); keep the two in step.
type Config struct {
	// Backend is "file" (default), "vault" or "nats-kv".
	Backend string
	// Dir and KeyFile configure the encrypted file store. KeyFile is also
	// the data key of the nats-kv backend (required there).
	Dir     string
	KeyFile string
	// VaultAddress, VaultMount (default "secret") and VaultTokenEnv (the
	// environment variable holding the token, default VAULT_TOKEN) configure
	// the Vault / OpenBao KV v2 backend. The token itself never sits in a
	// config file.
	VaultAddress  string
	VaultMount    string
	VaultTokenEnv string
	// Bucket is the JetStream key-value bucket of the nats-kv backend
	// (default "secrets").
	Bucket string
}
