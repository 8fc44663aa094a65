package temporalcodec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Keyring holds the payload keys: one current key that encrypts, and every
// key (current and retired) that may still decrypt history written earlier.
// Rotation: add the new key everywhere first (decrypt-only), then make it
// current; keep retired keys as long as histories that used them are
// retained.
type Keyring struct {
	current string
	keys    map[string]cipher.AEAD
}

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// NewKeyring builds a keyring from raw 32-byte AES-256 keys by id; currentID
// must be one of them.
func NewKeyring(currentID string, keys map[string][]byte) (*Keyring, error) {
	kr := &Keyring{current: currentID, keys: map[string]cipher.AEAD{}}
	for id, k := range keys {
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("payload key id %q: want 1-64 of A-Z a-z 0-9 . _ -", id)
		}
		if len(k) != 32 {
			return nil, fmt.Errorf("payload key %q: want 32 bytes (AES-256), got %d", id, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		kr.keys[id] = aead
	}
	if _, ok := kr.keys[currentID]; !ok {
		return nil, fmt.Errorf("current payload key %q is not in the keyring", currentID)
	}
	return kr, nil
}

// CurrentID is the id of the key that encrypts new payloads.
func (k *Keyring) CurrentID() string { return k.current }

// IDs lists every key id, sorted.
func (k *Keyring) IDs() []string {
	out := make([]string, 0, len(k.keys))
	for id := range k.keys {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// ParseKeyring reads "id=base64key" entries separated by newlines or commas
// ('#' starts a comment line). The current key is the one named by a
// "current=<id>" entry, else the last key listed, so rotating is appending a
// line. Keys are standard or URL base64 of 32 random bytes
// (`openssl rand -base64 32`).
func ParseKeyring(text string) (*Keyring, error) {
	keys := map[string][]byte{}
	current, last := "", ""
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ',' }) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, val, ok := strings.Cut(line, "=")
		id, val = strings.TrimSpace(id), strings.TrimSpace(val)
		if !ok || id == "" || val == "" {
			// Never echo the line: it may hold key material.
			return nil, errors.New("payload keyring: an entry is not id=base64key")
		}
		if id == "current" {
			current = val
			continue
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("payload keyring: key id %q listed twice", id)
		}
		k, err := decodeKey(val)
		if err != nil {
			return nil, fmt.Errorf("payload keyring: key %q: %w", id, err)
		}
		keys[id] = k
		last = id
	}
	if len(keys) == 0 {
		return nil, errors.New("payload keyring: no keys")
	}
	if current == "" {
		current = last
	}
	return NewKeyring(current, keys)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("want 32 bytes, got %d", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// LoadKeyringFile reads a keyring file (ParseKeyring's format). The file
// must be a regular file of mode 0600 or stricter: group- or world-readable
// key files are refused.
func LoadKeyringFile(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("payload key file %s is not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("payload key file %s is readable by others (mode %v): chmod 600", path, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, err
	}
	return ParseKeyring(string(b))
}

// Environment variables KeyringFromEnv reads.
const (
	EnvKeys    = "RUNBOOK_PAYLOAD_KEYS"     // "id=base64key,id2=base64key"
	EnvKeyFile = "RUNBOOK_PAYLOAD_KEY_FILE" // path of a keyring file
	EnvCurrent = "RUNBOOK_PAYLOAD_KEY_ID"   // optional: the current key id
)

// KeyringFromEnv loads the keyring from EnvKeys or, if unset, EnvKeyFile;
// EnvCurrent overrides the current key. getenv is os.Getenv in production.
// It returns (nil, nil) when neither is set, so the caller decides whether
// running without a codec is allowed (the dev stack generates a key file).
func KeyringFromEnv(getenv func(string) string) (*Keyring, error) {
	var (
		kr  *Keyring
		err error
	)
	switch {
	case getenv(EnvKeys) != "":
		kr, err = ParseKeyring(getenv(EnvKeys))
	case getenv(EnvKeyFile) != "":
		kr, err = LoadKeyringFile(getenv(EnvKeyFile))
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if id := getenv(EnvCurrent); id != "" {
		if _, ok := kr.keys[id]; !ok {
			return nil, fmt.Errorf("%s=%q is not in the keyring", EnvCurrent, id)
		}
		kr.current = id
	}
	return kr, nil
}

// LoadOrCreateKeyFile loads the keyring file at path, or creates it (mode
// 0600, O_EXCL) with one fresh random key named id. For the dev stack, which
// must encrypt payloads without an operator handing it a key.
func LoadOrCreateKeyFile(path, id string) (*Keyring, error) {
	kr, err := LoadKeyringFile(path)
	if !errors.Is(err, os.ErrNotExist) {
		return kr, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadKeyringFile(path) // another process created it first
	}
	if err != nil {
		return nil, err
	}
	line := "# Temporal payload keys: id=base64(32 bytes). The last key (or current=<id>) encrypts.\n" +
		id + "=" + base64.StdEncoding.EncodeToString(key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return NewKeyring(id, map[string][]byte{id: key})
}
