package exchangesim

import (
	"net/http"
	"sync"
	"time"
)

// Call is one request the simulator received, for assertions ("exactly one
// create-key call succeeded", "the attacker's calls were refused").
type Call struct {
	Seq      int    `json:"seq"`
	Exchange string `json:"exchange"`
	Method   string `json:"method"`
	Path     string `json:"path"` // without the /<dialect> prefix
	// Op is the dialect's name for the operation ("create_key",
	// "revoke_key", "set_ip_whitelist", "cancel_all", "place_order",
	// "withdraw", "list_keys", …); "" for calls the dialect does not name.
	Op       string `json:"op,omitempty"`
	KeyID    string `json:"key_id,omitempty"` // the API key presented, if any
	ClientIP string `json:"client_ip"`
	// Status is the HTTP status the handler answered; 0 when the connection
	// was dropped before the handler ran (with drop_after it is the status
	// the client never received).
	Status   int           `json:"status"`
	Code     string        `json:"code,omitempty"`
	Fault    string        `json:"fault,omitempty"`   // injected fault(s): "rate_limit", "server_error", "slow", "drop", "drop_after"
	Dropped  bool          `json:"dropped,omitempty"` // the client got no answer
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"duration_ns"`
	// Result is a short, secret-free note from the dialect ("created key
	// abc…", "revoked key abc…").
	Result string `json:"result,omitempty"`
}

type callKey struct{}

// CallOf returns the call record of a request being served, so a dialect can
// fill in KeyID, Op, Code and Result. It is never nil inside a dialect
// handler; outside one it returns a throwaway record.
func CallOf(r *http.Request) *Call {
	if c, ok := r.Context().Value(callKey{}).(*Call); ok {
		return c
	}
	return &Call{}
}

type callLog struct {
	mu    sync.Mutex
	calls []Call
}

func (l *callLog) add(c Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.Seq = len(l.calls) + 1
	l.calls = append(l.calls, c)
}

// CallFilter selects calls; zero fields match anything.
type CallFilter struct {
	Exchange string `json:"exchange,omitempty"`
	Op       string `json:"op,omitempty"`
	KeyID    string `json:"key_id,omitempty"`
	ClientIP string `json:"client_ip,omitempty"`
	Path     string `json:"path,omitempty"`
	// Status 0 matches any. OnlyOK keeps calls the dialect answered 2xx,
	// including those dropped after the handler ran (the state changed even
	// though the client never heard).
	Status int  `json:"status,omitempty"`
	OnlyOK bool `json:"only_ok,omitempty"`
}

func (f CallFilter) match(c Call) bool {
	if f.Exchange != "" && c.Exchange != f.Exchange ||
		f.Op != "" && c.Op != f.Op ||
		f.KeyID != "" && c.KeyID != f.KeyID ||
		f.ClientIP != "" && c.ClientIP != f.ClientIP ||
		f.Path != "" && c.Path != f.Path ||
		f.Status != 0 && c.Status != f.Status {
		return false
	}
	if f.OnlyOK && !(c.Status >= 200 && c.Status < 300) {
		return false
	}
	return true
}

// Calls returns the recorded calls matching f, in arrival order.
func (s *Sim) Calls(f CallFilter) []Call {
	s.calls.mu.Lock()
	defer s.calls.mu.Unlock()
	var out []Call
	for _, c := range s.calls.calls {
		if f.match(c) {
			out = append(out, c)
		}
	}
	return out
}

// ResetCalls empties the call log.
func (s *Sim) ResetCalls() {
	s.calls.mu.Lock()
	defer s.calls.mu.Unlock()
	s.calls.calls = nil
}
