package main

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
)

// httpRoutes are the engine's inbound HTTP endpoints.
type httpRoutes struct {
	sms          http.Handler // POST /sms/inbound: Twilio's incoming-message webhook
	alertmanager http.Handler // POST /alertmanager: Prometheus Alertmanager webhook → signed breach events
	metrics      http.Handler // /metrics, /healthz, /readyz (observability), when wired
}

type httpServer struct {
	srv *http.Server
	ln  net.Listener
}

func startHTTP(addr string, r httpRoutes) (*httpServer, error) {
	mux := http.NewServeMux()
	if r.sms != nil {
		mux.Handle("POST /sms/inbound", r.sms)
	}
	if r.alertmanager != nil {
		mux.Handle("POST /alertmanager", r.alertmanager)
	}
	if r.metrics != nil {
		mux.Handle("/", r.metrics)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &httpServer{srv: srv, ln: ln}, nil
}

// URL is the server's base URL.
func (h *httpServer) URL() string {
	if h == nil {
		return "(none)"
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

// alertmanagerBridge signs firing alerts with the first key of the keyring.
func alertmanagerBridge(js jetstream.JetStream, kr breach.Keyring) http.Handler {
	for id := range kr {
		return &ingest.AlertmanagerBridge{JS: js, Keys: kr, KeyID: id}
	}
	return nil
}
