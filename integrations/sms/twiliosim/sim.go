// Package twiliosim is a local HTTP server that speaks the part of Twilio's
// Messages API twilio-go uses: create a message, fetch a message. It checks
// HTTP Basic auth and the form fields, answers in Twilio's JSON shapes
// (errors included), records every message for assertions, can print each
// one (runbook dev's SMS sink) and can be told to fail: down, 500 or 429 for
// the next N requests. SendInbound plays Twilio's side of an inbound SMS
// webhook, signature included.
package twiliosim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sync"
	"time"
)

// Config configures a Server.
type Config struct {
	// AccountSID and AuthToken are the only credentials accepted.
	AccountSID string
	AuthToken  string
	// Addr to listen on (default 127.0.0.1:0, a free port).
	Addr string
	// Out, when set, gets one line per message received.
	Out io.Writer
}

// Message is one message the server accepted.
type Message struct {
	SID                 string
	AccountSID          string
	To                  string
	From                string
	MessagingServiceSID string
	Body                string
	Status              string // what a fetch reports now
	ErrorCode           int
	Created             time.Time
}

// Server is a running simulator.
type Server struct {
	cfg Config
	ln  net.Listener
	srv *http.Server

	mu            sync.Mutex
	messages      []Message
	undeliverable map[string]bool
	optedOut      map[string]bool
	faults        []fault
	requests      int
}

// Start listens and serves until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.AccountSID == "" || cfg.AuthToken == "" {
		return nil, errors.New("twiliosim: account SID and auth token are required")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("twiliosim: %w", err)
	}
	s := &Server{cfg: cfg, ln: ln, undeliverable: map[string]bool{}, optedOut: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{account}/Messages.json", s.create)
	mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Messages/{file}", s.fetch)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
	})
	s.srv = &http.Server{Handler: s.middleware(mux), ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed on Close
	return s, nil
}

// URL is the base URL to give sms.Config.BaseURL.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Messages returns every accepted message, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// MessagesTo returns the accepted messages sent to number.
func (s *Server) MessagesTo(number string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		if m.To == number {
			out = append(out, m)
		}
	}
	return out
}

// Requests counts every request that reached the server, faults included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Undeliverable makes messages to number end "undelivered" (error 30003,
// unreachable handset), as a phone that is off for good would.
func (s *Server) Undeliverable(number string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.undeliverable[number] = true
}

// OptOut makes creates to number fail with 21610, as Twilio answers once a
// person replied STOP.
func (s *Server) OptOut(number string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.optedOut[number] = true
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func newSID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
