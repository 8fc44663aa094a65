package freqtrade

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyresponse/runbook/integrations/bot"
)

// secretsConfig is the freqtrade config fragment that carries only the
// exchange credentials; freqtrade deep-merges it over the main config.
type secretsConfig struct {
	Exchange secretsExchange `json:"exchange"`
}

type secretsExchange struct {
	Key      string `json:"key"`
	Secret   string `json:"secret"`
	Password string `json:"password,omitempty"`
}

// WriteSecretsConfig writes {"exchange":{"key","secret","password"}} to
// path so that a reader sees either the old file or the new one, never a
// partial one: a temp file in the same directory, created 0600, written,
// fsynced, renamed over path, and the directory fsynced.
func WriteSecretsConfig(path string, c bot.Credentials) error {
	b, err := json.MarshalIndent(secretsConfig{Exchange: secretsExchange{Key: c.APIKey, Secret: c.Secret, Password: c.Passphrase}}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("secrets config written, directory sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("secrets config written, directory sync: %w", err)
	}
	return nil
}
