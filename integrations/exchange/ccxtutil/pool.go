package ccxtutil

import (
	"container/list"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"sync"
	"time"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
)

// Building a ccxt client is expensive (ccxt.NewBinance transforms the whole
// endpoint table: ~27 % of the engine's CPU in the contain benchmark when
// every call built one), so adapters keep built clients in a Pool.
//
// What ccxt keeps on a client across calls (v4.5.46, read from the source):
//   - per-request fields written without a lock (LastResponseHeaders,
//     Last_request_*, LastRestRequestTimestamp): one client must never
//     serve two calls at once, so a pooled client is leased exclusively;
//   - markets: LoadMarkets marks them loaded even when loading failed, so a
//     client whose call failed is never reused (Release discards it);
//   - options that change error semantics: Binance sets
//     hasAlreadyAuthenticatedSuccessfully after a successful private call
//     and from then on raises -2015 as DDoSProtection instead of
//     AuthenticationError. Adapters reset such options on every lease
//     (Spec.Reset), so the second call classifies like the first.
//
// Nonces are the wall clock (no counter on the client), and the adapters do
// not enable adjustForTimeDifference, so no other state carries over.

// Spec tells a Pool how to build and reset one exchange's clients.
type Spec[E any] struct {
	// Build makes a client for cred whose HTTP client is hc.
	Build func(cred exchange.Credential, hc *http.Client) (E, error)
	// Reset, when set, clears per-client state that would change a later
	// call's behaviour; it runs on every lease.
	Reset func(E)
}

// Purposes of pooled clients: the same credential used for different jobs
// gets different clients, so state one job loads (markets) never meets
// another job's calls.
const (
	ForManagement = "mgmt"        // key management with the management key
	ForBot        = "bot"         // calls with the bot's own key
	ForVerify     = "verify"      // checks of a key from the bot's address
	ForTrader     = "trader"      // trading with a given key (tests, the bench's attacker)
	ForSelfRevoke = "self_revoke" // a key deleting itself (Bybit)
)

// Pool defaults: identities (credential × source address × purpose) kept,
// idle clients per identity (≥ the largest batch concurrency, 64), and how
// long an unused identity stays.
const (
	DefaultMaxIdentities = 256
	DefaultMaxIdle       = 64
	DefaultIdleTTL       = 10 * time.Minute
)

// Pool keeps built clients per identity: the purpose (management, bot,
// trader…), the source address and the credential — its public key id and
// an HMAC of secret and passphrase under a per-process random salt, so no
// secret is ever a map key in clear. A credential with a new secret is a
// new identity and evicts the old one's clients; Evict drops a revoked
// key's clients. It is safe for concurrent use: each lease is exclusive.
type Pool[E any] struct {
	spec    Spec[E]
	name    string
	cfg     exchange.Config
	timeout time.Duration

	MaxIdentities int
	MaxIdle       int
	IdleTTL       time.Duration
	now           func() time.Time

	salt []byte

	mu         sync.Mutex
	ids        map[poolKey]*list.Element // of *identity[E]
	lru        *list.List                // front = most recent
	transports map[string]*http.Transport
	built      int // clients built, for tests and benchmarks
}

type poolKey struct {
	purpose, localAddr, apiKey string
	fp                         [sha256.Size]byte
}

type identity[E any] struct {
	key      poolKey
	idle     []*pooled[E]
	lastUsed time.Time
}

type pooled[E any] struct {
	ex  E
	ctx *ctxHolder
}

// NewPool returns an empty pool for the adapter named name, configured by cfg.
func NewPool[E any](name string, cfg exchange.Config, timeout time.Duration, spec Spec[E]) *Pool[E] {
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return &Pool[E]{spec: spec, name: name, cfg: cfg, timeout: timeout,
		MaxIdentities: DefaultMaxIdentities, MaxIdle: DefaultMaxIdle, IdleTTL: DefaultIdleTTL, now: time.Now,
		salt: salt, ids: map[poolKey]*list.Element{}, lru: list.New(), transports: map[string]*http.Transport{}}
}

func (p *Pool[E]) key(purpose, localAddr string, cred exchange.Credential) poolKey {
	m := hmac.New(sha256.New, p.salt)
	m.Write([]byte(cred.Secret))
	m.Write([]byte{0})
	m.Write([]byte(cred.Passphrase))
	k := poolKey{purpose: purpose, localAddr: localAddr, apiKey: cred.APIKey}
	copy(k.fp[:], m.Sum(nil))
	return k
}

// Do leases a client for cred (purpose names what it is for; localAddr ""
// = the config's LocalAddr), binds it to ctx, and runs fn with it. The
// client goes back to the pool only when fn succeeded: a failed call may
// leave state behind (see above), so its client is dropped, and an
// authentication failure drops every idle client of the credential.
func (p *Pool[E]) Do(ctx context.Context, purpose string, cred exchange.Credential, localAddr string, fn func(ex E) error) error {
	if localAddr == "" {
		localAddr = p.cfg.LocalAddr
	}
	k := p.key(purpose, localAddr, cred)
	c, err := p.get(k, cred)
	if err != nil {
		return err
	}
	if p.spec.Reset != nil {
		p.spec.Reset(c.ex)
	}
	c.ctx.set(ctx)
	err = fn(c.ex)
	c.ctx.clear()
	switch {
	case err == nil:
		p.put(k, c)
	case exchange.KindOf(err) == exchange.KindAuthentication:
		p.Evict(cred.APIKey)
	}
	return err
}

func (p *Pool[E]) get(k poolKey, cred exchange.Credential) (*pooled[E], error) {
	p.mu.Lock()
	p.sweep()
	if el, ok := p.ids[k]; ok {
		id := el.Value.(*identity[E])
		id.lastUsed = p.now()
		p.lru.MoveToFront(el)
		if n := len(id.idle); n > 0 {
			c := id.idle[n-1]
			id.idle = id.idle[:n-1]
			p.mu.Unlock()
			return c, nil
		}
	} else {
		// A new secret for a key id we hold clients for is a rotation:
		// the old secret's clients must not be used again.
		p.evictLocked(func(o poolKey) bool { return o.apiKey == k.apiKey && o.fp != k.fp })
		p.ids[k] = p.lru.PushFront(&identity[E]{key: k, lastUsed: p.now()})
		for p.lru.Len() > p.MaxIdentities {
			p.removeLocked(p.lru.Back())
		}
	}
	tr, err := p.transportLocked(k.localAddr)
	p.built++
	p.mu.Unlock()
	if err != nil {
		return nil, &exchange.Error{Kind: exchange.KindInvalid, Exchange: p.name, Op: "client", Message: err.Error()}
	}
	h := &ctxHolder{}
	timeout := p.timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ex, err := p.spec.Build(cred, &http.Client{Timeout: timeout, Transport: ctxTransport{ctx: h, next: tr}})
	if err != nil {
		return nil, err
	}
	return &pooled[E]{ex: ex, ctx: h}, nil
}

func (p *Pool[E]) put(k poolKey, c *pooled[E]) {
	p.mu.Lock()
	defer p.mu.Unlock()
	el, ok := p.ids[k]
	if !ok {
		return // evicted while leased (revoked or rotated): drop
	}
	id := el.Value.(*identity[E])
	if len(id.idle) < p.MaxIdle {
		id.idle = append(id.idle, c)
	}
}

// sweep drops identities unused for IdleTTL.
func (p *Pool[E]) sweep() {
	cut := p.now().Add(-p.IdleTTL)
	for el := p.lru.Back(); el != nil; {
		prev := el.Prev()
		if el.Value.(*identity[E]).lastUsed.After(cut) {
			return
		}
		p.removeLocked(el)
		el = prev
	}
}

// Evict drops every client of the key apiKey (all secrets, purposes and
// addresses): call it when the key is revoked or its secret rotated.
func (p *Pool[E]) Evict(apiKey string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.evictLocked(func(k poolKey) bool { return k.apiKey == apiKey })
}

func (p *Pool[E]) evictLocked(match func(poolKey) bool) {
	for k, el := range p.ids {
		if match(k) {
			p.removeLocked(el)
		}
	}
}

func (p *Pool[E]) removeLocked(el *list.Element) {
	id := el.Value.(*identity[E])
	delete(p.ids, id.key)
	p.lru.Remove(el)
}

// PoolStats is what tests and benchmarks read from an adapter's pool
// (adapters expose it as ClientPool()).
type PoolStats interface {
	Built() int
	Idle(apiKey string) int
}

// Idle is how many idle clients the pool holds for the key apiKey.
func (p *Pool[E]) Idle(apiKey string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k, el := range p.ids {
		if k.apiKey == apiKey {
			n += len(el.Value.(*identity[E]).idle)
		}
	}
	return n
}

// Built is how many clients the pool has built so far.
func (p *Pool[E]) Built() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.built
}

// Close drops every client and closes idle connections.
func (p *Pool[E]) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ids = map[poolKey]*list.Element{}
	p.lru.Init()
	for _, tr := range p.transports {
		tr.CloseIdleConnections()
	}
}

func (p *Pool[E]) transportLocked(localAddr string) (*http.Transport, error) {
	if tr, ok := p.transports[localAddr]; ok {
		return tr, nil
	}
	tr, err := NewTransport(localAddr)
	if err != nil {
		return nil, err
	}
	p.transports[localAddr] = tr
	return tr, nil
}

// BindHTTP installs hc as ex's HTTP client, for Spec.Build.
func BindHTTP(name string, ex *ccxt.Exchange, hc *http.Client) error {
	if err := SetHTTPClient(ex, hc); err != nil {
		return &exchange.Error{Kind: exchange.KindUnsupported, Exchange: name, Op: "client", Message: err.Error()}
	}
	return nil
}
