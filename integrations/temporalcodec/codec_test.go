package temporalcodec

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

const canary = "CANARY-sk-9f2c4e1d7b3a"

func TestRoundTripAndCiphertextOnly(t *testing.T) {
	kr, err := NewKeyring("k1", map[string][]byte{"k1": newKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	dc := DataConverter(kr)
	in := map[string]string{"secret": canary, "bot": "bot-1"}
	ps, err := dc.ToPayloads(in)
	if err != nil {
		t.Fatal(err)
	}
	p := ps.Payloads[0]
	if string(p.Metadata[converter.MetadataEncoding]) != EncodingEncrypted || string(p.Metadata[MetadataKeyID]) != "k1" {
		t.Fatalf("metadata = %v", p.Metadata)
	}
	if bytes.Contains(p.Data, []byte(canary)) || bytes.Contains(p.Data, []byte("json/plain")) {
		t.Fatal("ciphertext holds plaintext")
	}
	var out map[string]string
	if err := dc.FromPayloads(ps, &out); err != nil || out["secret"] != canary {
		t.Fatalf("decoded %v, %v", out, err)
	}
	// Same input twice encrypts differently (fresh nonce).
	ps2, _ := dc.ToPayloads(in)
	if bytes.Equal(ps2.Payloads[0].Data, p.Data) {
		t.Fatal("nonce reused")
	}
}

func encodeOne(t *testing.T, c *Codec, s string) *commonpb.Payload {
	t.Helper()
	pl, err := converter.GetDefaultDataConverter().ToPayload(s)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encode([]*commonpb.Payload{pl})
	if err != nil {
		t.Fatal(err)
	}
	return enc[0]
}

func TestTamperDetection(t *testing.T) {
	kr, _ := NewKeyring("k2", map[string][]byte{"k1": newKey(t), "k2": newKey(t)})
	c := NewCodec(kr)
	for name, mutate := range map[string]func(p *commonpb.Payload){
		"flipped ciphertext bit": func(p *commonpb.Payload) { p.Data[len(p.Data)-20] ^= 1 },
		"flipped nonce bit":      func(p *commonpb.Payload) { p.Data[0] ^= 0x80 },
		"truncated":              func(p *commonpb.Payload) { p.Data = p.Data[:10] },
		// A payload relabelled with another key the ring holds must fail:
		// the id is bound as additional data.
		"relabelled key id": func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("k1") },
	} {
		p := encodeOne(t, c, "value")
		mutate(p)
		if _, err := c.Decode([]*commonpb.Payload{p}); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func TestRotationAndUnknownKey(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	old, _ := NewKeyring("k1", map[string][]byte{"k1": k1})
	p := encodeOne(t, NewCodec(old), canary)

	// k2 becomes current; k1 stays for decryption.
	rotated, err := ParseKeyring("k1=" + base64.StdEncoding.EncodeToString(k1) + "\nk2=" + base64.StdEncoding.EncodeToString(k2) + "\n")
	if err != nil || rotated.CurrentID() != "k2" {
		t.Fatalf("rotated keyring: %v %v", rotated, err)
	}
	c := NewCodec(rotated)
	dec, err := c.Decode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatalf("old payload after rotation: %v", err)
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(dec[0], &s); err != nil || s != canary {
		t.Fatalf("old payload = %q, %v", s, err)
	}
	if got := string(encodeOne(t, c, "new").Metadata[MetadataKeyID]); got != "k2" {
		t.Fatalf("new payloads use %q, want k2", got)
	}

	// A worker that only has k2 cannot read k1 payloads and says why.
	only2, _ := NewKeyring("k2", map[string][]byte{"k2": k2})
	_, err = NewCodec(only2).Decode([]*commonpb.Payload{p})
	if err == nil || !strings.Contains(err.Error(), `unknown encryption key id "k1"`) {
		t.Fatalf("unknown key: %v", err)
	}

	// A plaintext payload (a client without the key) is refused, not
	// trusted: alone or mixed in with encrypted ones.
	plain, _ := converter.GetDefaultDataConverter().ToPayload("approved by mallory")
	for name, in := range map[string][]*commonpb.Payload{"alone": {plain}, "mixed": {p, plain}} {
		if _, err := c.Decode(in); !errors.Is(err, ErrPlaintextPayload) {
			t.Fatalf("plain payload %s: want ErrPlaintextPayload, got %v", name, err)
		}
	}
}

func TestKeyringSources(t *testing.T) {
	k := base64.StdEncoding.EncodeToString(make([]byte, 32))
	kr, err := ParseKeyring("# keys\nold=" + k + "\nnew=" + k + "\ncurrent=old\n")
	if err != nil || kr.CurrentID() != "old" || len(kr.IDs()) != 2 {
		t.Fatalf("current= line: %v %v", kr, err)
	}
	for _, bad := range []string{"", "k1", "k1=" + base64.StdEncoding.EncodeToString(make([]byte, 16)), "k 1=" + k, "k1=" + k + ",current=zz"} {
		if _, err := ParseKeyring(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	// Errors never echo key material.
	if _, err := ParseKeyring("k1" + k); err == nil || strings.Contains(err.Error(), k) {
		t.Errorf("error echoes the line: %v", err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "payload.keys")
	created, err := LoadOrCreateKeyFile(path, "dev-1")
	if err != nil || created.CurrentID() != "dev-1" {
		t.Fatalf("create: %v %v", created, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	// Reopened: the same key decrypts what the first opener encrypted.
	p := encodeOne(t, NewCodec(created), canary)
	again, err := LoadOrCreateKeyFile(path, "ignored")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCodec(again).Decode([]*commonpb.Payload{p}); err != nil {
		t.Fatalf("reopened key file: %v", err)
	}
	os.Chmod(path, 0o640)
	if _, err := LoadKeyringFile(path); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("group-readable key file: %v", err)
	}
	os.Chmod(path, 0o600)

	env := map[string]string{EnvKeyFile: path}
	fromEnv, err := KeyringFromEnv(func(k string) string { return env[k] })
	if err != nil || fromEnv.CurrentID() != "dev-1" {
		t.Fatalf("env file: %v %v", fromEnv, err)
	}
	env = map[string]string{EnvKeys: "a=" + k + ",b=" + k, EnvCurrent: "a"}
	if fromEnv, err = KeyringFromEnv(func(k string) string { return env[k] }); err != nil || fromEnv.CurrentID() != "a" {
		t.Fatalf("env keys: %v %v", fromEnv, err)
	}
	if kr, err := KeyringFromEnv(func(string) string { return "" }); kr != nil || err != nil {
		t.Fatalf("no env: %v %v", kr, err)
	}
}
