// Package exchangesim is a local exchange simulator: a real HTTP server on
// 127.0.0.1 that speaks the subset of the Binance, OKX and Bybit REST APIs our
// ccxt calls use, keeps accounts, sub-accounts, keys, balances and orders, and
// enforces keys, permissions and IP whitelists (the client IP is the TCP
// peer). It injects faults on demand and records every call.
//
// The core (this package) owns state, faults, the call log and the admin API
// under /_sim/. Each exchange's wire format is a Dialect in its own package
// (binancesim, okxsim, bybitsim), mounted at /<dialect name>/. See
// DIALECTS.md.
package exchangesim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Dialect is one exchange's REST API on top of the core.
type Dialect interface {
	// Name is the exchange id and the URL prefix: "binance" → /binance/….
	Name() string
	// Handler serves requests whose path has the /<name> prefix stripped.
	// It is built once, when the dialect is registered.
	Handler(s *Sim) http.Handler
	// FaultResponse is the status, headers and body this exchange sends for
	// an injected fault (FaultRateLimit, FaultServerError). retryAfter is set
	// for FaultRateLimit.
	FaultResponse(kind FaultKind, retryAfter time.Duration) (status int, header http.Header, body []byte)
}

// Options configure a simulator.
type Options struct {
	// Seed makes fault injection deterministic (same seed, same request
	// order → same faults).
	Seed int64
	// Now is the clock (default time.Now); Binance timestamps are checked
	// against it.
	Now func() time.Time
	// Markets are the spot markets every dialect serves (default DefaultMarkets).
	Markets []Market
	// Dialects to mount.
	Dialects []Dialect
	// Logger for the simulator's own messages (default: discard).
	Logger *slog.Logger
}

// Sim is the simulator. All methods are safe for concurrent use.
type Sim struct {
	mu       sync.Mutex // guards st
	st       *state
	now      func() time.Time
	markets  []Market
	log      *slog.Logger
	dialects map[string]http.Handler
	ds       map[string]Dialect

	faults *faultInjector
	calls  *callLog

	srv      *http.Server
	ln       net.Listener
	serveErr chan error
}

// New builds a simulator; Start serves it.
func New(opts Options) *Sim {
	s := &Sim{
		st:       newState(),
		now:      opts.Now,
		markets:  opts.Markets,
		log:      opts.Logger,
		dialects: map[string]http.Handler{},
		ds:       map[string]Dialect{},
		faults:   newFaultInjector(opts.Seed),
		calls:    &callLog{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(s.markets) == 0 {
		s.markets = DefaultMarkets
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, d := range opts.Dialects {
		s.Register(d)
	}
	return s
}

// Register mounts a dialect; registering a name twice panics (wiring bug).
func (s *Sim) Register(d Dialect) {
	h := d.Handler(s) // outside the lock: a dialect may call back into s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.ds[d.Name()]; dup {
		panic("exchangesim: dialect registered twice: " + d.Name())
	}
	s.ds[d.Name()] = d
	s.dialects[d.Name()] = h
}

// Dialects lists the mounted dialect names, sorted.
func (s *Sim) Dialects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.ds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Now is the simulator's clock.
func (s *Sim) Now() time.Time { return s.now() }

// Start listens on addr ("127.0.0.1:0" for any free port) and serves in the
// background. Only loopback addresses are accepted: the simulator holds
// secrets in clear and must not be reachable from elsewhere.
func (s *Sim) Start(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("exchangesim: refusing to listen on non-loopback address %q", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.serveErr = make(chan error, 1)
	go func() { s.serveErr <- s.srv.Serve(ln) }()
	return nil
}

// URL is the base URL ("http://127.0.0.1:port"); a dialect's base URL is
// URL()+"/"+name.
func (s *Sim) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// DialectURL is the base URL of one dialect.
func (s *Sim) DialectURL(name string) string { return s.URL() + "/" + name }

// Close stops the server.
func (s *Sim) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if e := <-s.serveErr; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// ServeHTTP routes /_sim/ to the admin API and /<dialect>/ to the dialect,
// recording the call and applying faults on the way.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveAdmin(w, r)
		return
	}
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	s.mu.Lock()
	h, ok := s.dialects[name]
	d := s.ds[name]
	s.mu.Unlock()
	if !ok {
		http.Error(w, "no such dialect", http.StatusNotFound)
		return
	}
	call := &Call{
		Exchange: name,
		Method:   r.Method,
		Path:     "/" + rest,
		ClientIP: ClientIP(r),
		At:       s.now(),
	}
	rec := &statusRecorder{ResponseWriter: w}
	// record appends the call to the log once. It runs before the answer
	// can complete at the client (ServeHTTP has not returned, so the body is
	// not terminated yet) and before a dropped connection is closed, so a
	// client that saw the outcome always finds the call in the log.
	recorded := false
	record := func() {
		if recorded {
			return
		}
		recorded = true
		if rec.status == 0 && !call.Dropped {
			rec.status = http.StatusOK // handler wrote nothing: net/http sends 200
		}
		call.Status = rec.status
		call.Duration = time.Since(call.At)
		s.calls.add(*call)
	}
	defer record()

	r2 := r.Clone(context.WithValue(r.Context(), callKey{}, call))
	r2.URL.Path = "/" + rest
	r2.URL.RawPath = ""

	plan := s.faults.plan(name, call.Method, call.Path)
	if plan.delay > 0 {
		call.Fault = appendFault(call.Fault, "slow")
		select {
		case <-time.After(plan.delay):
		case <-r.Context().Done():
			return
		}
	}
	switch plan.kind {
	case FaultRateLimit, FaultServerError:
		call.Fault = appendFault(call.Fault, string(plan.kind))
		status, hdr, body := d.FaultResponse(plan.kind, plan.retryAfter)
		for k, vs := range hdr {
			for _, v := range vs {
				rec.Header().Add(k, v)
			}
		}
		rec.WriteHeader(status)
		_, _ = rec.Write(body)
		return
	case FaultDrop:
		call.Fault = appendFault(call.Fault, string(plan.kind))
		call.Dropped = true
		record()
		dropConn(w)
		return
	case FaultDropAfter:
		// The handler runs (state changes) but the client never sees the
		// answer: the case that makes non-idempotent retries duplicate.
		call.Fault = appendFault(call.Fault, string(plan.kind))
		call.Dropped = true
		dw := &discardWriter{h: http.Header{}}
		h.ServeHTTP(dw, r2)
		rec.status = dw.status // what the handler answered, though never delivered
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		record()
		dropConn(w)
		return
	}
	h.ServeHTTP(rec, r2)
}

func appendFault(have, f string) string {
	if have == "" {
		return f
	}
	return have + "," + f
}

// ClientIP is the request's TCP peer address (never a header: a whitelist
// must not be spoofable by X-Forwarded-For).
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}

// dropConn closes the TCP connection without an HTTP answer.
func dropConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST, like a load balancer cutting the line
	}
	_ = conn.Close()
}
