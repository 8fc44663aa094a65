// Package ccxtutil holds what every ccxt-based adapter needs: an HTTP client
// bound to a source address and a context, waiting on ccxt's result channels
// under a context, and turning ccxt errors into *exchange.Error.
package ccxtutil

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"time"
	"unsafe"

	ccxt "github.com/ccxt/ccxt/go/v4"
)

// NewHTTPClient returns a client whose connections originate from localAddr
// ("" = any) and whose requests carry ctx (ccxt builds requests without a
// context, so cancellation and deadlines are attached here). Keep-alives are
// off: each adapter operation uses a fresh client, and a pooled connection
// would survive past the operation's context.
func NewHTTPClient(ctx context.Context, localAddr string, timeout time.Duration) (*http.Client, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if localAddr != "" {
		ip := net.ParseIP(localAddr)
		if ip == nil {
			return nil, fmt.Errorf("local address %q is not an IP", localAddr)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		DisableKeepAlives:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		Proxy:               http.ProxyFromEnvironment,
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &http.Client{Timeout: timeout, Transport: ctxTransport{ctx: ctx, next: tr}}, nil
}

type ctxTransport struct {
	ctx  context.Context
	next http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.next.RoundTrip(r.WithContext(t.ctx))
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
