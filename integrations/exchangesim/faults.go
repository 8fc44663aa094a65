package exchangesim

import (
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// FaultKind names an injected fault.
type FaultKind string

const (
	FaultNone        FaultKind = ""
	FaultRateLimit   FaultKind = "rate_limit"   // 429 with Retry-After, before the handler
	FaultServerError FaultKind = "server_error" // 5xx, before the handler
	FaultDrop        FaultKind = "drop"         // connection reset, before the handler
	FaultDropAfter   FaultKind = "drop_after"   // handler runs, then the connection is reset
)

// Faults configure injection. Rates are probabilities in [0,1] drawn per
// request from a generator seeded with Seed, so a given seed and request
// order give the same faults. RateLimit, ServerError, Drop and DropAfter are
// exclusive (one draw); Slow is drawn separately and adds SlowDelay.
type Faults struct {
	RateLimit   float64 `json:"rate_limit,omitempty"`
	ServerError float64 `json:"server_error,omitempty"`
	Drop        float64 `json:"drop,omitempty"`
	DropAfter   float64 `json:"drop_after,omitempty"`
	Slow        float64 `json:"slow,omitempty"`
	// SlowDelay is the added latency of a slow response (default 200ms).
	SlowDelay time.Duration `json:"slow_delay_ns,omitempty"`
	// RetryAfter is what a 429 announces (default 1s; whole seconds on the wire).
	RetryAfter time.Duration `json:"retry_after_ns,omitempty"`
	// Exchanges limits faults to these dialects (empty = all).
	Exchanges []string `json:"exchanges,omitempty"`
	// PathPrefixes limits faults to paths with one of these prefixes, after
	// the dialect prefix (e.g. "/sapi/"). Empty = all paths.
	PathPrefixes []string `json:"path_prefixes,omitempty"`
	// Seed, when non-zero, reseeds the generator.
	Seed int64 `json:"seed,omitempty"`
}

type faultPlan struct {
	kind       FaultKind
	delay      time.Duration
	retryAfter time.Duration
}

type faultInjector struct {
	mu  sync.Mutex
	cfg Faults
	rng *rand.Rand
	// Injected counts the faults injected by kind.
	injected map[FaultKind]int
}

func newFaultInjector(seed int64) *faultInjector {
	return &faultInjector{rng: newRand(seed), injected: map[FaultKind]int{}}
}

func newRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
}

func (f *faultInjector) set(cfg Faults) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cfg.Seed != 0 {
		f.rng = newRand(cfg.Seed)
	}
	if cfg.SlowDelay == 0 {
		cfg.SlowDelay = 200 * time.Millisecond
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = time.Second
	}
	f.cfg = cfg
}

func (f *faultInjector) plan(exchange, method, path string) faultPlan {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cfg
	if c.RateLimit+c.ServerError+c.Drop+c.DropAfter+c.Slow == 0 {
		return faultPlan{}
	}
	if len(c.Exchanges) > 0 && !contains(c.Exchanges, exchange) {
		return faultPlan{}
	}
	if len(c.PathPrefixes) > 0 {
		ok := false
		for _, p := range c.PathPrefixes {
			ok = ok || strings.HasPrefix(path, p)
		}
		if !ok {
			return faultPlan{}
		}
	}
	var p faultPlan
	// Two draws per request whatever the outcome, so the sequence depends
	// only on the number of requests, not on earlier results.
	x, y := f.rng.Float64(), f.rng.Float64()
	switch {
	case x < c.RateLimit:
		p.kind, p.retryAfter = FaultRateLimit, c.RetryAfter
	case x < c.RateLimit+c.ServerError:
		p.kind = FaultServerError
	case x < c.RateLimit+c.ServerError+c.Drop:
		p.kind = FaultDrop
	case x < c.RateLimit+c.ServerError+c.Drop+c.DropAfter:
		p.kind = FaultDropAfter
	}
	if y < c.Slow {
		p.delay = c.SlowDelay
		f.injected["slow"]++
	}
	if p.kind != FaultNone {
		f.injected[p.kind]++
	}
	return p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// SetFaults replaces the fault configuration (zero value = no faults).
func (s *Sim) SetFaults(f Faults) { s.faults.set(f) }

// Faults returns the current fault configuration.
func (s *Sim) Faults() Faults {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.cfg
}

// InjectedFaults counts the faults injected so far by kind ("slow" included).
func (s *Sim) InjectedFaults() map[FaultKind]int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	out := map[FaultKind]int{}
	for k, v := range s.faults.injected {
		out[k] = v
	}
	return out
}
