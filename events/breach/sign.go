package breach

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// MinKeyBytes is the shortest HMAC key accepted (256 bits).
const MinKeyBytes = 32

var keyIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Keyring maps a key id (the sigkeyid attribute) to its HMAC secret. Several
// keys at once allow rotation: publishers move to the new id while the
// verifier still accepts the old one, then the old one is removed.
type Keyring map[string][]byte

// IDs lists the key ids, sorted (for logs; never print the secrets).
func (k Keyring) IDs() []string {
	ids := make([]string, 0, len(k))
	for id := range k {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Add checks and stores one key.
func (k Keyring) Add(id string, secret []byte) error {
	if !keyIDRe.MatchString(id) {
		return fmt.Errorf("key id %q: want 1-64 of [A-Za-z0-9._-]", id)
	}
	if len(secret) < MinKeyBytes {
		return fmt.Errorf("key %q: %d bytes, want at least %d", id, len(secret), MinKeyBytes)
	}
	k[id] = append([]byte(nil), secret...)
	return nil
}

// ParseKeyring reads "id=base64secret" entries separated by commas, spaces
// or newlines; blank lines and lines starting with # are ignored. This is
// the format of the RUNBOOK_EVENT_KEYS variable and of a keyring file.
func ParseKeyring(s string) (Keyring, error) {
	kr := Keyring{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, ent := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			id, b64, ok := strings.Cut(ent, "=")
			if !ok {
				return nil, fmt.Errorf("keyring entry for %q: want id=base64secret", truncate(ent, 16))
			}
			// The secret is base64 and may itself end in '=': Cut at the first.
			secret, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return nil, fmt.Errorf("keyring entry %q: secret is not standard base64", id)
			}
			if err := kr.Add(id, secret); err != nil {
				return nil, err
			}
		}
	}
	return kr, sc.Err()
}

// LoadKeyringFile reads a keyring file (see ParseKeyring). The file should
// be readable by the service user only; a group- or world-readable file is
// refused so a secret store mount with wrong permissions is noticed.
func LoadKeyringFile(path string) (Keyring, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keyring %s: mode %v, want no group/other access (chmod 600)", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseKeyring(string(b))
}

// Sign returns ev with sigkeyid=keyID and signature = base64(HMAC-SHA256(key,
// Canonical(ev))). The signature covers every attribute including sigkeyid
// and data, except the signature itself.
func Sign(ev Event, kr Keyring, keyID string) (Event, error) {
	key, ok := kr[keyID]
	if !ok {
		return Event{}, fmt.Errorf("sign: no key %q in keyring", keyID)
	}
	ev.SigKeyID = keyID
	ev.Signature = ""
	ev.canonical = nil
	c, err := ev.canonicalBytes()
	if err != nil {
		return Event{}, fmt.Errorf("sign: %w", err)
	}
	ev.Signature = mac(key, c)
	return ev, nil
}

func mac(key, msg []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// checkSignature verifies ev's signature against the keyring.
func checkSignature(ev Event, kr Keyring) error {
	key, ok := kr[ev.SigKeyID]
	if !ok {
		return refuse(ReasonUnknownKey, "sigkeyid %q is not in the keyring", ev.SigKeyID)
	}
	c, err := ev.canonicalBytes()
	if err != nil {
		return refuse(ReasonMalformedJSON, "%v", err)
	}
	want := mac(key, c)
	if !hmac.Equal([]byte(want), []byte(ev.Signature)) {
		return refuse(ReasonBadSignature, "HMAC-SHA256 with key %q does not match", ev.SigKeyID)
	}
	return nil
}
