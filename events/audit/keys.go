package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/keyresponse/runbook/events/breach"
)

// MACPrefix starts every record's mac.
const MACPrefix = "hmac-sha256:"

// macContext separates audit MACs from any other HMAC made with the same
// secret (an operator who reuses an event-signing secret as audit key must
// not turn a signed breach event into a valid audit record).
const macContext = "runbook-audit-record-v1\n"

// Keys authenticate audit records: an HMAC-SHA256 per record under a key
// only the engine holds, so someone who can publish on audit.* (but does
// not hold the key) cannot append, alter or re-chain a record that Verify
// accepts. The ring has the same format and loader as the breach event
// keys (events/breach: id=base64secret lines, file mode 0600, secrets of
// at least 32 bytes); Signing names the key new records are written under,
// so a key can rotate: add the new id, switch Signing to it, and drop the
// old id only when no trail still to be verified uses it.
type Keys struct {
	Ring    breach.Keyring
	Signing string
}

// NewKeys checks that ring holds the signing key. An empty signing id
// picks the ring's only key; with several keys it must be named (setting
// named by the caller in its error, here "signing key id").
func NewKeys(ring breach.Keyring, signing string) (Keys, error) {
	if len(ring) == 0 {
		return Keys{}, fmt.Errorf("audit keys: the keyring is empty")
	}
	if signing == "" {
		if len(ring) != 1 {
			return Keys{}, fmt.Errorf("audit keys: the keyring holds %d keys (%s): name the one new records are signed with (signing key id)",
				len(ring), strings.Join(ring.IDs(), ", "))
		}
		signing = ring.IDs()[0]
	}
	if _, ok := ring[signing]; !ok {
		return Keys{}, fmt.Errorf("audit keys: signing key id %q is not in the keyring (it holds %s)", signing, strings.Join(ring.IDs(), ", "))
	}
	return Keys{Ring: ring, Signing: signing}, nil
}

// LoadKeysFile reads an audit keyring file (breach.LoadKeyringFile: the
// file must not be group- or world-readable).
func LoadKeysFile(path, signing string) (Keys, error) {
	ring, err := breach.LoadKeyringFile(path)
	if err != nil {
		return Keys{}, fmt.Errorf("audit keys: %w", err)
	}
	k, err := NewKeys(ring, signing)
	if err != nil {
		return Keys{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParseKeys reads an audit keyring from a string (the value of an
// environment variable), in breach.ParseKeyring's format.
func ParseKeys(s, signing string) (Keys, error) {
	ring, err := breach.ParseKeyring(s)
	if err != nil {
		return Keys{}, fmt.Errorf("audit keys: %w", err)
	}
	return NewKeys(ring, signing)
}

// canonical is the record's encoding with hash and mac empty: what both the
// hash and the MAC are computed over. It holds seq, prev_hash and key_id,
// so a MAC also binds the record to its place in the chain and to its key.
// Records written before audit keys have no key_id and no mac (both omitted
// when empty), so their canonical bytes, and their hashes, are unchanged.
func (r Record) canonical() []byte {
	r.Hash, r.MAC = "", ""
	b, err := jsonMarshal(r)
	if err != nil {
		// Only strings, ints and a time: Marshal cannot fail on them.
		panic(fmt.Sprintf("audit: encode record: %v", err))
	}
	return b
}

func computeMAC(secret []byte, canonical []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(macContext))
	m.Write(canonical)
	return MACPrefix + hex.EncodeToString(m.Sum(nil))
}

// sign sets key_id and mac (after Seal has set seq and prev_hash; the
// hash is recomputed since it covers key_id).
func (k Keys) sign(r *Record) error {
	secret, ok := k.Ring[k.Signing]
	if !ok || k.Signing == "" {
		return fmt.Errorf("audit: no signing key (audit keys not configured)")
	}
	r.KeyID = k.Signing
	c := r.canonical()
	r.Hash = hashOf(c)
	r.MAC = computeMAC(secret, c)
	return nil
}

// authentic reports whether r carries a valid MAC under a key of ring.
// It returns a reason when not.
func authentic(ring breach.Keyring, r Record) (bool, string) {
	if r.MAC == "" && r.KeyID == "" {
		return false, "no mac"
	}
	secret, ok := ring[r.KeyID]
	if !ok {
		if r.KeyID == "" {
			return false, "mac without a key id"
		}
		return false, fmt.Sprintf("unknown key id %q (the keyring holds %s)", r.KeyID, strings.Join(ring.IDs(), ", "))
	}
	if !hmac.Equal([]byte(computeMAC(secret, r.canonical())), []byte(r.MAC)) {
		return false, fmt.Sprintf("mac does not match under key id %q", r.KeyID)
	}
	return true, ""
}
