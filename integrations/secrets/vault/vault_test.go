package vault

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/integrations/secrets/vault/vaultsim"
)

func start(t *testing.T, casRequired bool) (*vaultsim.Server, *httptest.Server) {
	t.Helper()
	sim := vaultsim.New("root-token-for-tests", "kv")
	sim.CASRequired = casRequired
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv
}

func TestVaultStoreVersionsCASAndRollback(t *testing.T) {
	ctx := context.Background()
	sim, srv := start(t, true) // cas_required: every write of ours must carry cas
	s, err := Open(Config{Address: srv.URL, Mount: "kv", Prefix: "runbook", Token: "root-token-for-tests"})
	if err != nil {
		t.Fatal(err)
	}
	name := "binance/bot-1/api"
	r1, err := s.Put(ctx, name, []byte(`{"api_key":"A1","secret":"first-secret"}`), map[string]string{"key_id": "A1"})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Put(ctx, name, []byte(`{"api_key":"A2","secret":"second-secret"}`), map[string]string{"key_id": "A2"})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Version != 1 || r2.Version != 2 || r2.Fingerprint != secrets.Fingerprint([]byte(`{"api_key":"A2","secret":"second-secret"}`)) {
		t.Fatalf("refs %+v %+v", r1, r2)
	}
	// Stored where an operator expects it, readable with `vault kv get`.
	d, ok := sim.Data("runbook/"+name, 2)
	if !ok || !strings.Contains(d["value"].(string), "second-secret") || d["meta"].(map[string]any)["key_id"] != "A2" {
		t.Fatalf("vault data = %v", d)
	}

	if v, err := s.Get(ctx, secrets.Ref{Name: name}); err != nil || !strings.Contains(string(v), "second-secret") {
		t.Fatalf("current = %q, %v", v, err)
	}
	if v, err := s.Get(ctx, r1); err != nil || !strings.Contains(string(v), "first-secret") {
		t.Fatalf("v1 = %q, %v", v, err)
	}
	if _, err := s.Get(ctx, secrets.Ref{Name: name, Version: 1, Fingerprint: r2.Fingerprint}); err == nil {
		t.Fatal("fingerprint mismatch not detected")
	}
	if _, err := s.Get(ctx, secrets.Ref{Name: name, Version: 9}); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("missing version: %v", err)
	}
	if _, err := s.Get(ctx, secrets.Ref{Name: "nope"}); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("missing secret: %v", err)
	}
	found, ok, err := secrets.FindByMeta(ctx, s, name, "key_id", "A1")
	if err != nil || !ok || found.Version != 1 {
		t.Fatalf("find by meta = %+v %v %v", found, ok, err)
	}

	// Rollback writes version 1's value again as version 3.
	rb, err := s.Rollback(ctx, name)
	if err != nil || rb.Version != 3 || rb.Fingerprint != r1.Fingerprint {
		t.Fatalf("rollback = %+v, %v", rb, err)
	}
	if v, _ := s.Get(ctx, secrets.Ref{Name: name}); !strings.Contains(string(v), "first-secret") {
		t.Fatalf("after rollback current = %q", v)
	}
	vs, err := s.Versions(ctx, name)
	if err != nil || len(vs) != 3 || !vs[2].Current || vs[2].Meta[secrets.MetaRestores] != "1" || vs[2].Meta["key_id"] != "A1" {
		t.Fatalf("versions = %+v, %v", vs, err)
	}
	// Nothing before version 1: a second rollback is refused.
	if _, err := s.Rollback(ctx, name); err == nil {
		t.Fatal("rollback past the first version succeeded")
	}

	// Binary values survive.
	bin := []byte{0xff, 0x00, 0xfe, 'x'}
	if _, err := s.Put(ctx, "bin", bin, nil); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, secrets.Ref{Name: "bin"}); err != nil || string(v) != string(bin) {
		t.Fatalf("binary = %x, %v", v, err)
	}
}

// TestVaultCASConflict plays a second writer that changes the secret
// between our read of the current version and our write: the simulator must
// refuse the stale cas the way Vault does, and the store must report it.
func TestVaultCASConflict(t *testing.T) {
	ctx := context.Background()
	sim, srv := start(t, false)
	s, err := Open(Config{Address: srv.URL, Mount: "kv", Token: "root-token-for-tests"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"one-value", "two-value"} {
		if _, err := s.Put(ctx, "x", []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	// A raw client writing with a stale cas gets Vault's 400.
	c, _ := vaultapi.NewClient(&vaultapi.Config{Address: srv.URL})
	c.SetToken("root-token-for-tests")
	_, err = c.KVv2("kv").Put(ctx, "x", map[string]any{"value": "other"}, vaultapi.WithCheckAndSet(1))
	if !isCASConflict(err) || !strings.Contains(err.Error(), "check-and-set parameter did not match the current version") {
		t.Fatalf("stale cas: %v", err)
	}

	// Interleave: another writer lands between the store's metadata read and
	// its rollback write.
	interloper := &interleave{next: sim}
	interloper.set(func() {
		c.KVv2("kv").Put(ctx, "x", map[string]any{"value": "third"}, vaultapi.WithCheckAndSet(2))
	})
	srv2 := httptest.NewServer(interloper)
	defer srv2.Close()
	s2, _ := Open(Config{Address: srv2.URL, Mount: "kv", Token: "root-token-for-tests"})
	if _, err := s2.Rollback(ctx, "x"); !errors.Is(err, secrets.ErrConflict) {
		t.Fatalf("rollback over a concurrent write: %v", err)
	}
	if v, _ := s.Get(ctx, secrets.Ref{Name: "x"}); string(v) != "third" {
		t.Fatalf("current = %q; the concurrent write must survive", v)
	}
	// Put retries a lost cas (adding a version commutes).
	interloper.set(func() {
		c.KVv2("kv").Put(ctx, "x", map[string]any{"value": "fourth"}, vaultapi.WithCheckAndSet(3))
	})
	r, err := s2.Put(ctx, "x", []byte("fifth-value"), nil)
	if err != nil || r.Version != 5 {
		t.Fatalf("put after a lost cas = %+v, %v", r, err)
	}
	if sim.Conflicts() != 3 { // the raw stale write, the rollback, the first put try
		t.Fatalf("simulator answered %d cas conflicts, want 3", sim.Conflicts())
	}
}

// interleave runs onWrite (once) before forwarding the first write.
type interleave struct {
	next    http.Handler
	mu      sync.Mutex
	onWrite func()
}

func (i *interleave) set(f func()) {
	i.mu.Lock()
	i.onWrite = f
	i.mu.Unlock()
}

func (i *interleave) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	f := i.onWrite
	if r.Method != http.MethodGet {
		i.onWrite = nil
	} else {
		f = nil
	}
	i.mu.Unlock()
	if f != nil {
		f()
	}
	i.next.ServeHTTP(w, r)
}

func TestVaultTokenChecked(t *testing.T) {
	sim, srv := start(t, false)
	s, err := Open(Config{Address: srv.URL, Mount: "kv", Token: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(context.Background(), "x", []byte("value-1"), nil)
	if err == nil || !strings.Contains(err.Error(), "permission denied") || sim.Denied() == 0 {
		t.Fatalf("wrong token: %v (denied %d)", err, sim.Denied())
	}
	if _, err := Open(Config{Address: srv.URL}); err == nil {
		t.Fatal("empty token accepted")
	}
}
