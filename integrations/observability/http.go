package observability

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/keyresponse/runbook/events/audit/redact"
	"github.com/keyresponse/runbook/integrations/httplimits"
)

// ReadyFunc reports whether the process can do its work (nil = ready).
type ReadyFunc func(ctx context.Context) error

// readyTimeout bounds one readiness check: a probe must answer before the
// kubelet's own timeout (3 s in deploy/k8s).
const readyTimeout = 2 * time.Second

// Handler serves
//
//	/metrics  Prometheus text format: the engine's metrics, the Temporal
//	          SDK's (TemporalMetricsHandler) and the Go runtime's
//	/healthz  200 while the process serves HTTP (liveness)
//	/readyz   200 when ready() returns nil, else 503 with the reason
//	          (readiness: Temporal and NATS reachable)
//
// ready nil means always ready.
func Handler(m *Metrics, ready ReadyFunc) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg, // promhttp's own error counters
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := ready(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				// The reason helps whoever reads the probe; redacted in
				// case an error quotes a URL with credentials.
				fmt.Fprintln(w, "not ready:", redact.Default.String(err.Error()))
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Server is the metrics/health HTTP server of a worker.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Serve listens on addr (e.g. ":9090", "127.0.0.1:0") before returning, so
// a port already in use is an error here and not a log line later, then
// serves h in the background until Close.
func Serve(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	s := &Server{
		srv:  httplimits.Server(h),
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the address the server listens on (the port chosen for ":0").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, letting in-flight scrapes finish until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; err == nil {
		err = serr
	}
	return err
}

// AllReady is ready when every check is.
func AllReady(checks ...ReadyFunc) ReadyFunc {
	return func(ctx context.Context) error {
		var errs []error
		for _, c := range checks {
			if c == nil {
				continue
			}
			if err := c(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}

// NATSReady is ready while the connection is connected (the client
// reconnects by itself; while it does, the process is not ready).
func NATSReady(nc *nats.Conn) ReadyFunc {
	return func(context.Context) error {
		if st := nc.Status(); st != nats.CONNECTED {
			return fmt.Errorf("nats: %s", st)
		}
		return nil
	}
}

// TemporalReady is ready while the Temporal frontend answers a health check.
func TemporalReady(c client.Client) ReadyFunc {
	return func(ctx context.Context) error {
		if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			return fmt.Errorf("temporal: %w", err)
		}
		return nil
	}
}
