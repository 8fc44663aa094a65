// Package ccxtutil holds what every ccxt-based adapter needs: a pool of
// built clients whose HTTP transport is bound to a source address and whose
// requests carry the caller's context, waiting on ccxt's result channels
// under a context, and turning ccxt errors into *exchange.Error.
package ccxtutil

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"sync/atomic"
	"time"
	"unsafe"

	ccxt "github.com/ccxt/ccxt/go/v4"
)

// NewTransport returns a keep-alive transport whose connections originate
// from localAddr ("" = any). One transport serves every pooled client of an
// adapter sending from that address, so calls reuse connections instead of
// paying a TCP (and, on a real exchange, TLS) handshake each.
func NewTransport(localAddr string) (*http.Transport, error) {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if localAddr != "" {
		ip := net.ParseIP(localAddr)
		if ip == nil {
			return nil, fmt.Errorf("local address %q is not an IP", localAddr)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return &http.Transport{
		DialContext:         d.DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: DefaultMaxIdle,
		IdleConnTimeout:     90 * time.Second,
	}, nil
}

// ctxHolder is the context of the lease a pooled client is serving (ccxt
// builds requests without a context, so cancellation and deadlines are
// attached in the transport). A client serves one lease at a time.
type ctxHolder struct {
	p atomic.Pointer[context.Context]
}

func (h *ctxHolder) set(ctx context.Context) { h.p.Store(&ctx) }

// clear ends the lease: a call still running after it gets the
// not-leased context below.
func (h *ctxHolder) clear() { h.p.Store(nil) }

func (h *ctxHolder) get() context.Context {
	if c := h.p.Load(); c != nil {
		return *c
	}
	// Not leased: only a call that outlived its lease (its caller gave up
	// on ctx) gets here; it must not go out.
	return cancelled
}

var cancelled = func() context.Context {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	return c
}()

type ctxTransport struct {
	ctx  *ctxHolder
	next http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.next.RoundTrip(r.WithContext(t.ctx.get()))
}

// SetHTTPClient installs c as the ccxt exchange's HTTP client.
//
// ccxt Go keeps its *http.Client in an unexported field and offers no
// setter (only proxy settings, which replace the transport), so the field is
// written through reflection. The adapter tests assert the simulator sees
// the bound source IP, so a ccxt upgrade that renames the field fails loudly
// here rather than silently sending from the wrong address.
func SetHTTPClient(ex *ccxt.Exchange, c *http.Client) error {
	v := reflect.ValueOf(ex).Elem().FieldByName("httpClient")
	if !v.IsValid() || v.Type() != reflect.TypeOf(c) {
		return fmt.Errorf("ccxt: Exchange.httpClient not found (ccxt version changed?)")
	}
	reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem().Set(reflect.ValueOf(c))
	return nil
}
