package natsauth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nkeys"
)

// SeedFile is where role r's nkey seed lives under dir (mode 0600): what a
// client passes as its nkey seed file (RUNBOOK_NATS_NKEY, nats --nkey).
func SeedFile(dir string, r Role) string { return filepath.Join(dir, string(r)+".nk") }

// EnsureSeeds makes sure dir holds one nkey user seed per role, creating
// the missing ones, and returns every role's public key. A seed file that
// is readable by others or does not hold a user seed is an error naming
// the file: it is a credential.
func EnsureSeeds(dir string) (Users, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	users := Users{}
	for _, r := range Roles {
		pub, err := ensureSeed(SeedFile(dir, r))
		if err != nil {
			return nil, err
		}
		users[r] = []string{pub}
	}
	return users, nil
}

func ensureSeed(path string) (string, error) {
	if fi, err := os.Stat(path); err == nil {
		if fi.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("%s: mode %v lets others read a NATS credential (want 0600)", path, fi.Mode().Perm())
		}
		return PublicKeyOf(path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", err
	}
	seed, err := kp.Seed()
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(seed, '\n'), 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return kp.PublicKey()
}

// PublicKeyOf reads an nkey user seed file and returns its public key.
func PublicKeyOf(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(raw))))
	if err != nil {
		return "", fmt.Errorf("%s: not an nkey seed: %w", path, err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(pub, "U") {
		return "", fmt.Errorf("%s: holds a %c… key, want a user seed (SU…)", path, pub[0])
	}
	return pub, nil
}
