package ccxtutil

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/exchange"
)

// fake stands in for a ccxt client: it records who built it and detects
// two leases using it at once.
type fake struct {
	id     int
	secret string
	hc     *http.Client
	inUse  atomic.Bool
	resets int
}

func newTestPool(t *testing.T) (*Pool[*fake], *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	p := NewPool("test", exchange.Config{}, time.Second, Spec[*fake]{
		Build: func(cred exchange.Credential, hc *http.Client) (*fake, error) {
			return &fake{id: int(n.Add(1)), secret: cred.Secret, hc: hc}, nil
		},
		Reset: func(f *fake) { f.resets++ },
	})
	return p, &n
}

var (
	credA  = exchange.Credential{APIKey: "AK-A", Secret: "secret-a"}
	credA2 = exchange.Credential{APIKey: "AK-A", Secret: "secret-a-rotated"}
	credB  = exchange.Credential{APIKey: "AK-B", Secret: "secret-b"}
)

func lease(t *testing.T, p *Pool[*fake], purpose string, c exchange.Credential, err error) *fake {
	t.Helper()
	var got *fake
	if e := p.Do(context.Background(), purpose, c, "", func(f *fake) error { got = f; return err }); !errors.Is(e, err) {
		t.Fatalf("Do returned %v, want %v", e, err)
	}
	return got
}

func TestPoolReusesAfterSuccessOnly(t *testing.T) {
	p, built := newTestPool(t)
	a := lease(t, p, "mgmt", credA, nil)
	if b := lease(t, p, "mgmt", credA, nil); b != a || b.resets != 2 {
		t.Fatalf("second lease got client %d (resets %d), want the first one reset on each lease", b.id, b.resets)
	}
	if c := lease(t, p, "bot", credA, nil); c == a {
		t.Fatal("another purpose shares the client")
	}
	// A failed call may leave state behind (ccxt marks markets loaded even
	// when loading failed): its client is not reused.
	boom := errors.New("boom")
	lease(t, p, "mgmt", credA, boom)
	if d := lease(t, p, "mgmt", credA, nil); d == a {
		t.Fatal("client reused after a failed call")
	}
	if built.Load() != 3 {
		t.Fatalf("built %d clients, want 3", built.Load())
	}
}

func TestPoolDropsRevokedAndRotatedCredentials(t *testing.T) {
	p, _ := newTestPool(t)
	lease(t, p, "mgmt", credA, nil)
	lease(t, p, "bot", credA, nil)
	lease(t, p, "mgmt", credB, nil)

	// Rotation: the same key id with a new secret never meets the old
	// secret's clients again.
	f := lease(t, p, "mgmt", credA2, nil)
	if f.secret != credA2.Secret {
		t.Fatal("rotated credential got a client built on the old secret")
	}
	if n := p.Idle("AK-A"); n != 1 {
		t.Fatalf("idle clients of AK-A after rotation = %d, want 1 (the new secret's)", n)
	}
	if g := lease(t, p, "bot", credA2, nil); g.secret != credA2.Secret {
		t.Fatal("old secret's bot client reused after rotation")
	}

	// Revocation (the adapter calls Evict when the key is gone) and an
	// authentication failure both drop the key's clients.
	p.Evict("AK-A")
	if n := p.Idle("AK-A"); n != 0 {
		t.Fatalf("idle clients after Evict = %d", n)
	}
	auth := &exchange.Error{Kind: exchange.KindAuthentication, Exchange: "test", Op: "x"}
	lease(t, p, "mgmt", credB, nil)
	lease(t, p, "bot", credB, nil)
	lease(t, p, "mgmt", credB, auth)
	if n := p.Idle("AK-B"); n != 0 {
		t.Fatalf("idle clients of AK-B after an authentication failure = %d, want 0", n)
	}
}

func TestPoolKeysHoldNoSecret(t *testing.T) {
	p, _ := newTestPool(t)
	lease(t, p, "mgmt", credA, nil)
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.ids {
		if s := fmt.Sprintf("%+v %x", k, k.fp); strings.Contains(s, credA.Secret) || strings.Contains(s, fmt.Sprintf("%x", credA.Secret)) {
			t.Fatalf("pool key holds the secret: %s", s)
		}
	}
}

func TestPoolBounds(t *testing.T) {
	p, built := newTestPool(t)
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	p.MaxIdentities = 2
	lease(t, p, "mgmt", credA, nil)
	lease(t, p, "mgmt", credB, nil)
	lease(t, p, "bot", credB, nil) // third identity: credA's is least recent
	if p.Idle("AK-A") != 0 || p.Idle("AK-B") != 2 {
		t.Fatalf("LRU: idle A=%d B=%d, want 0 and 2", p.Idle("AK-A"), p.Idle("AK-B"))
	}
	now = now.Add(p.IdleTTL + time.Second)
	before := built.Load()
	lease(t, p, "mgmt", credB, nil)
	if built.Load() != before+1 {
		t.Fatal("an identity idle longer than IdleTTL was reused")
	}
}

// Concurrent leases never share a client (ccxt writes per-request fields
// on the client without a lock), and idle clients are bounded by MaxIdle.
func TestPoolLeasesAreExclusive(t *testing.T) {
	p, built := newTestPool(t)
	p.MaxIdle = 4
	var wg sync.WaitGroup
	var shared atomic.Int64
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				_ = p.Do(context.Background(), "mgmt", credA, "", func(f *fake) error {
					if !f.inUse.CompareAndSwap(false, true) {
						shared.Add(1)
					}
					time.Sleep(100 * time.Microsecond)
					f.inUse.Store(false)
					return nil
				})
			}
		}()
	}
	wg.Wait()
	if shared.Load() != 0 {
		t.Fatalf("%d leases shared a client", shared.Load())
	}
	if n := p.Idle("AK-A"); n > 4 {
		t.Fatalf("idle = %d, want at most MaxIdle 4", n)
	}
	if built.Load() > 32 {
		t.Fatalf("built %d clients for 32 concurrent callers", built.Load())
	}
}

// A pooled client's requests carry the current lease's context: a
// cancelled lease cannot send, and the next lease's requests go out.
func TestPoolBindsLeaseContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	p, _ := newTestPool(t)
	get := func(ctx context.Context) error {
		return p.Do(ctx, "mgmt", credA, "", func(f *fake) error {
			resp, err := f.hc.Get(srv.URL)
			if err != nil {
				return err
			}
			return resp.Body.Close()
		})
	}
	if err := get(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := get(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("request under a cancelled lease: err = %v, want context.Canceled", err)
	}
	if err := get(context.Background()); err != nil {
		t.Fatalf("after a cancelled lease: %v", err)
	}
}
