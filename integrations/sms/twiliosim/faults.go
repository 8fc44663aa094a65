package twiliosim

import (
	"net/http"
)

// Fault is a way to fail a request.
type Fault int

const (
	// Down drops the connection without an answer (a network error).
	Down Fault = iota
	// ServerError answers 500 in Twilio's error shape.
	ServerError
	// TooManyRequests answers 429 (code 20429) with Retry-After: 1.
	TooManyRequests
)

type fault struct {
	kind Fault
	left int
}

// FailNext makes the next n requests fail with f. Calls queue up: FailNext(
// Down, 1) then FailNext(ServerError, 2) fails three requests in that order.
func (s *Server) FailNext(f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > 0 {
		s.faults = append(s.faults, fault{kind: f, left: n})
	}
}

// Recover drops every queued fault: the provider is healthy again.
func (s *Server) Recover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault counts the request and returns the fault it must suffer.
func (s *Server) takeFault() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if len(s.faults) == 0 {
		return 0, false
	}
	f := s.faults[0].kind
	s.faults[0].left--
	if s.faults[0].left == 0 {
		s.faults = s.faults[1:]
	}
	return f, true
}

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := s.takeFault()
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		switch f {
		case Down:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			writeError(w, http.StatusBadGateway, 0, "connection dropped")
		case TooManyRequests:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, 20429, "Too Many Requests")
		default:
			writeError(w, http.StatusInternalServerError, 20500, "Internal Server Error")
		}
	})
}
