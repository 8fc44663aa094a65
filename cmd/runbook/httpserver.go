package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"github.com/keyresponse/runbook/integrations/httplimits"
)

// httpRoutes are the endpoints of the engine's webhook and metrics
// listener. The Alertmanager bridge is not among them: it has its own
// authenticated listener (alertmanager.go), so exposing metrics to
// Prometheus does not expose a door that signs breach events.
type httpRoutes struct {
	sms     http.Handler // POST /sms/inbound: Twilio's incoming-message webhook (Twilio-signed)
	metrics http.Handler // /metrics, /healthz, /readyz (observability), when wired
}

type httpServer struct {
	srv *http.Server
	ln  net.Listener
	tls bool
}

func startHTTP(addr string, r httpRoutes) (*httpServer, error) {
	mux := http.NewServeMux()
	if r.sms != nil {
		mux.Handle("POST /sms/inbound", r.sms)
	}
	if r.metrics != nil {
		mux.Handle("/", r.metrics)
	}
	return serveHTTP(addr, mux, nil)
}

// serveHTTP listens on addr (so a port in use is an error now, not a log
// line later) and serves h within the engine's limits (httplimits), over
// TLS when tc is set.
func serveHTTP(addr string, h http.Handler, tc *tls.Config) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := httplimits.Server(h)
	if tc != nil {
		srv.TLSConfig = tc
		ln = tls.NewListener(ln, tc)
	}
	go func() { _ = srv.Serve(ln) }()
	return &httpServer{srv: srv, ln: ln, tls: tc != nil}, nil
}

// URL is the server's base URL.
func (h *httpServer) URL() string {
	if h == nil {
		return "(none)"
	}
	if h.tls {
		return "https://" + h.ln.Addr().String()
	}
	return "http://" + h.ln.Addr().String()
}

func (h *httpServer) close() {
	if h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = h.srv.Shutdown(ctx)
}
