package secrets

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileStoreRoundTripVersionsRollback(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenFile(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}

	r1, err := s.Put(ctx, "binance/bot-1/api", []byte("first-secret"), map[string]string{"key_id": "k1"})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Put(ctx, "binance/bot-1/api", []byte("second-secret"), map[string]string{"key_id": "k2"})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Version != 1 || r2.Version != 2 || r2.Fingerprint != Fingerprint([]byte("second-secret")) || len(r2.Fingerprint) != 12 {
		t.Fatalf("refs = %+v %+v", r1, r2)
	}

	// The value is not on disk in clear.
	files, _ := filepath.Glob(filepath.Join(dir, "secrets", "*.json"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte("second-secret")) || bytes.Contains(b, []byte("first-secret")) {
			t.Fatalf("%s holds a secret in clear", f)
		}
	}

	// A fresh opener with the same key file reads what the first wrote.
	s2, err := OpenFile(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s2.Get(ctx, Ref{Name: "binance/bot-1/api"}); err != nil || string(v) != "second-secret" {
		t.Fatalf("current = %q, %v", v, err)
	}
	if v, err := s2.Get(ctx, r1); err != nil || string(v) != "first-secret" {
		t.Fatalf("v1 = %q, %v", v, err)
	}
	if _, err := s2.Get(ctx, Ref{Name: "binance/bot-1/api", Version: 1, Fingerprint: r2.Fingerprint}); err == nil {
		t.Fatal("fingerprint mismatch not detected")
	}

	found, ok, err := FindByMeta(ctx, s2, "binance/bot-1/api", "key_id", "k1")
	if err != nil || !ok || found.Version != 1 {
		t.Fatalf("find by meta = %+v %v %v", found, ok, err)
	}

	rb, err := s2.Rollback(ctx, "binance/bot-1/api")
	if err != nil || rb.Version != 1 {
		t.Fatalf("rollback = %+v, %v", rb, err)
	}
	if v, _ := s2.Get(ctx, Ref{Name: "binance/bot-1/api"}); string(v) != "first-secret" {
		t.Fatalf("after rollback current = %q", v)
	}
	vs, _ := s2.Versions(ctx, "binance/bot-1/api")
	if len(vs) != 2 || !vs[0].Current || vs[1].Current {
		t.Fatalf("versions = %+v", vs)
	}
	if _, err := s2.Rollback(ctx, "binance/bot-1/api"); err == nil {
		t.Fatal("rollback past the first version succeeded")
	}

	// A different key cannot read the store.
	other, err := OpenFile(dir, filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(ctx, Ref{Name: "binance/bot-1/api"}); err == nil || !strings.Contains(err.Error(), "decrypt") {
		t.Fatalf("get with another key: %v", err)
	}

	if _, err := s2.Get(ctx, Ref{Name: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown secret: %v", err)
	}
}

func TestNamesAndKeyFileMode(t *testing.T) {
	for _, bad := range []string{"", "../x", "a//b", "a b", "a/./b"} {
		if ValidName(bad) == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if r, err := ParseRef("binance/bot-1/api@3"); err != nil || r.Version != 3 || r.Name != "binance/bot-1/api" {
		t.Fatalf("parse ref = %+v, %v", r, err)
	}
	dir := t.TempDir()
	kf := filepath.Join(dir, "k")
	if err := os.WriteFile(kf, []byte(strings.Repeat("ab", 32)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(dir, kf); err == nil {
		t.Fatal("world-readable key file accepted")
	}
}
