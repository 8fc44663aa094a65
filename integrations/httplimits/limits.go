// Package httplimits is the one place that says how long an engine HTTP
// listener waits for a client and how large a request header may be. Every
// listener the engine runs (webhooks, the Alertmanager bridge, metrics and
// health) builds its http.Server here, so a slow or oversized client is cut
// the same way everywhere.
//
// The bug this prevents: the engine's servers set only ReadHeaderTimeout, so
// a client that sent its headers and then dripped the body one byte at a
// time held a connection (and a goroutine) open for over a minute; enough of
// them exhaust the process.
package httplimits

import (
	"net/http"
	"time"
)

// Limits bound one server's connections.
type Limits struct {
	// ReadHeader is how long a client has to send the request line and
	// headers.
	ReadHeader time.Duration
	// Read is how long a client has to send the whole request, body
	// included: the slow-drip guard.
	Read time.Duration
	// Write bounds the handler plus the response write. The Alertmanager
	// bridge publishes up to its max_alerts events inside it.
	Write time.Duration
	// Idle is how long a kept-alive connection may wait for its next request.
	Idle time.Duration
	// MaxHeaderBytes caps the request line and headers.
	MaxHeaderBytes int
}

// Default are the engine's limits. Alertmanager, Twilio and Prometheus send
// small requests from nearby; none needs seconds to send its body.
var Default = Limits{
	ReadHeader:     5 * time.Second,
	Read:           15 * time.Second,
	Write:          30 * time.Second,
	Idle:           60 * time.Second,
	MaxHeaderBytes: 16 << 10,
}

// Server returns an http.Server serving h within l.
func (l Limits) Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		WriteTimeout:      l.Write,
		IdleTimeout:       l.Idle,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// Server returns an http.Server serving h within the Default limits.
func Server(h http.Handler) *http.Server { return Default.Server(h) }
