package natskv

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/integrations/natsdev"
	"github.com/keyresponse/runbook/integrations/secrets"
)

func startJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv, err := natsdev.Start(natsdev.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

const (
	first  = `{"api_key":"K1","secret":"PLAINTEXT-first-7f3a"}`
	second = `{"api_key":"K2","secret":"PLAINTEXT-second-9c1d"}`
)

func TestNATSKVStore(t *testing.T) {
	ctx := context.Background()
	js := startJS(t)
	keyFile := filepath.Join(t.TempDir(), "kv.key")
	s, err := Open(ctx, js, "secrets", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(keyFile); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode().Perm())
	}
	name := "okx/bot.1/api" // a '.' that KV keys would treat as a separator
	r1, err := s.Put(ctx, name, []byte(first), map[string]string{"key_id": "K1"})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Put(ctx, name, []byte(second), map[string]string{"key_id": "K2"})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Version != 1 || r2.Version != 2 || r2.Fingerprint != secrets.Fingerprint([]byte(second)) {
		t.Fatalf("refs %+v %+v", r1, r2)
	}
	if v, err := s.Get(ctx, secrets.Ref{Name: name}); err != nil || string(v) != second {
		t.Fatalf("current = %q, %v", v, err)
	}
	if v, err := s.Get(ctx, r1); err != nil || string(v) != first {
		t.Fatalf("v1 = %q, %v", v, err)
	}
	if _, err := s.Get(ctx, secrets.Ref{Name: name, Version: 1, Fingerprint: r2.Fingerprint}); err == nil {
		t.Fatal("fingerprint mismatch not detected")
	}
	if _, err := s.Get(ctx, secrets.Ref{Name: "absent"}); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}

	rb, err := s.Rollback(ctx, name)
	if err != nil || rb.Version != 3 || rb.Fingerprint != r1.Fingerprint {
		t.Fatalf("rollback = %+v, %v", rb, err)
	}
	if v, _ := s.Get(ctx, secrets.Ref{Name: name}); string(v) != first {
		t.Fatalf("after rollback = %q", v)
	}
	vs, err := s.Versions(ctx, name)
	if err != nil || len(vs) != 3 || !vs[2].Current || vs[2].Meta[secrets.MetaRestores] != "1" {
		t.Fatalf("versions %+v, %v", vs, err)
	}
	if _, err := s.Rollback(ctx, name); err == nil {
		t.Fatal("rolled back past version 1")
	}
	found, ok, err := secrets.FindByMeta(ctx, s, name, "key_id", "K2")
	if err != nil || !ok || found.Version != 2 {
		t.Fatalf("find by meta %+v %v %v", found, ok, err)
	}

	// Every raw message of the bucket's stream: no plaintext, in clear or
	// base64.
	str, err := js.Stream(ctx, "KV_secrets")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := str.Info(ctx)
	if info.State.Msgs != 3 {
		t.Fatalf("stream holds %d messages, want 3", info.State.Msgs)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := str.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		raw := append([]byte(m.Subject), m.Data...)
		for _, h := range m.Header {
			raw = append(raw, strings.Join(h, "")...)
		}
		for _, p := range []string{"PLAINTEXT-first-7f3a", "PLAINTEXT-second-9c1d", base64.StdEncoding.EncodeToString([]byte(first))[:24]} {
			if bytes.Contains(raw, []byte(p)) {
				t.Fatalf("stream message %d holds %q", seq, p)
			}
		}
	}

	// Another key cannot read the values.
	other, err := Open(ctx, js, "secrets", filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(ctx, secrets.Ref{Name: name}); err == nil || !strings.Contains(err.Error(), "decrypt") {
		t.Fatalf("other key: %v", err)
	}
	// A group-readable key file is refused.
	os.Chmod(keyFile, 0o640)
	if _, err := Open(ctx, js, "secrets", keyFile); err == nil {
		t.Fatal("group-readable key file accepted")
	}
}

// racingKV lets another writer land just before the store's next Update.
type racingKV struct {
	jetstream.KeyValue
	before func()
}

func (r *racingKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if f := r.before; f != nil {
		r.before = nil
		f()
	}
	return r.KeyValue.Update(ctx, key, value, rev)
}

func TestNATSKVOptimisticConcurrency(t *testing.T) {
	ctx := context.Background()
	js := startJS(t)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "race", History: History})
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	plain, _ := New(kv, key)
	racing := &racingKV{KeyValue: kv}
	s, _ := New(racing, key)
	for _, v := range []string{"value-one", "value-two"} {
		if _, err := plain.Put(ctx, "x", []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	racing.before = func() { plain.Put(ctx, "x", []byte("value-three"), nil) }
	if _, err := s.Rollback(ctx, "x"); !errors.Is(err, secrets.ErrConflict) {
		t.Fatalf("rollback over a concurrent write: %v", err)
	}
	if v, _ := plain.Get(ctx, secrets.Ref{Name: "x"}); string(v) != "value-three" {
		t.Fatalf("current = %q: the concurrent write must survive", v)
	}
	racing.before = func() { plain.Put(ctx, "x", []byte("value-four"), nil) }
	r, err := s.Put(ctx, "x", []byte("value-five"), nil)
	if err != nil || r.Version != 5 {
		t.Fatalf("put after a lost race = %+v, %v", r, err)
	}

	// The bucket keeps History revisions: older versions age out.
	for i := 0; i < History; i++ {
		if _, err := plain.Put(ctx, "y", []byte("filler-value"), nil); err != nil {
			t.Fatal(err)
		}
	}
	plain.Put(ctx, "y", []byte("newest-value"), nil)
	vs, _ := plain.Versions(ctx, "y")
	if len(vs) != History || vs[0].Version != 2 || vs[len(vs)-1].Version != History+1 {
		t.Fatalf("versions after %d puts: %d, first %d", History+1, len(vs), vs[0].Version)
	}
	if _, err := plain.Get(ctx, secrets.Ref{Name: "y", Version: 1}); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("aged-out version: %v", err)
	}
}
