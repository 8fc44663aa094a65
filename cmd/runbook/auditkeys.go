package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyresponse/runbook/events/audit"
)

// auditKeysFile is where `runbook dev` keeps the audit-record keys.
func auditKeysFile(home string) string { return filepath.Join(home, "audit-keys") }

// ensureDevAuditKeys creates the dev engine's audit key on first start
// (mode 0600, like ensureDevKeyring's event keys), so the worker signs
// every audit record and `runbook audit verify` can check them.
func ensureDevAuditKeys(home string) (audit.Keys, error) {
	path := auditKeysFile(home)
	if err := createSecretFileOnce(path, func() ([]byte, error) {
		return randomKeyFile("audit record keys for runbook dev: id=base64(secret); new records are signed with the only key", "dev-1")
	}); err != nil {
		return audit.Keys{}, err
	}
	return audit.LoadKeysFile(path, "")
}

// auditKeys reads the audit keys the way every verb does: the config's
// audit.keys_env (the variable it names) or audit.keys_file
// (RUNBOOK_AUDIT_KEYS_FILE), else the dev engine's file in the home dir.
// The signing key id is audit.signing_key_id (RUNBOOK_AUDIT_KEY_ID).
func (g *globals) auditKeys() (audit.Keys, error) {
	c := g.mustCfg().Audit
	if c.KeysEnv != "" {
		v := os.Getenv(c.KeysEnv)
		if v == "" {
			return audit.Keys{}, fmt.Errorf("audit.keys_env: environment variable %s is empty or unset", c.KeysEnv)
		}
		k, err := audit.ParseKeys(v, c.SigningKeyID)
		if err != nil {
			return audit.Keys{}, fmt.Errorf("audit.keys_env (%s): %w", c.KeysEnv, err)
		}
		return k, nil
	}
	if c.KeysFile != "" {
		k, err := audit.LoadKeysFile(c.KeysFile, c.SigningKeyID)
		if err != nil {
			return audit.Keys{}, fmt.Errorf("audit.keys_file: %w", err)
		}
		return k, nil
	}
	if _, err := os.Stat(auditKeysFile(g.homeDir())); err == nil {
		return audit.LoadKeysFile(auditKeysFile(g.homeDir()), c.SigningKeyID)
	}
	return audit.Keys{}, fmt.Errorf("no audit keys: set audit.keys_file (RUNBOOK_AUDIT_KEYS_FILE) or audit.keys_env in the config (runbook dev creates %s)",
		auditKeysFile(g.homeDir()))
}
