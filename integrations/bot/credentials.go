package bot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
)

// Credentials are the exchange credentials a bot trades with. The value
// never leaves this process except to the bot itself: every formatting,
// logging and JSON path prints only a fingerprint. Transports that must
// send the secret build their own wire struct from the fields.
type Credentials struct {
	Exchange   string
	APIKey     string
	Secret     string
	Passphrase string // OKX and a few others; empty elsewhere
}

// Fingerprint is the first 12 hex digits of sha256 over the key, secret and
// passphrase: enough to tell two credentials apart in an audit trail and to
// check that a bot got the one we sent, useless to an attacker.
func (c Credentials) Fingerprint() string {
	h := sha256.New()
	for _, s := range []string{c.APIKey, c.Secret, c.Passphrase} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Empty reports whether the key or the secret is missing.
func (c Credentials) Empty() bool { return c.APIKey == "" || c.Secret == "" }

// String redacts: exchange, a shortened key id and the fingerprint.
func (c Credentials) String() string {
	return fmt.Sprintf("credentials{exchange=%s key=%s fingerprint=%s}", c.Exchange, ShortID(c.APIKey), c.Fingerprint())
}

// GoString redacts %#v the same way.
func (c Credentials) GoString() string { return c.String() }

// Format makes every verb (%v, %+v, %s, %q, %x …) print the redacted form,
// so no formatting path can reach the fields.
func (c Credentials) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// MarshalJSON redacts.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"exchange": c.Exchange, "key": ShortID(c.APIKey), "fingerprint": c.Fingerprint(),
	})
}

// LogValue redacts for log/slog.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("exchange", c.Exchange),
		slog.String("key", ShortID(c.APIKey)),
		slog.String("fingerprint", c.Fingerprint()),
	)
}

// ShortID abbreviates a public key id for humans ("AbCd…9xYz").
func ShortID(id string) string {
	r := []rune(id)
	if len(r) <= 10 {
		return id
	}
	return string(r[:4]) + "…" + string(r[len(r)-4:])
}

// MarshalYAML redacts for gopkg.in/yaml.v3 (which would otherwise print the
// exported fields).
func (c Credentials) MarshalYAML() (any, error) {
	return map[string]string{"exchange": c.Exchange, "key": ShortID(c.APIKey), "fingerprint": c.Fingerprint()}, nil
}
