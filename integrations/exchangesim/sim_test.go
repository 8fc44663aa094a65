package exchangesim

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// echoDialect creates a key per POST so the core's bookkeeping can be
// tested without any exchange's wire format.
type echoDialect struct{}

func (echoDialect) Name() string { return "echo" }
func (echoDialect) FaultResponse(k FaultKind, ra time.Duration) (int, http.Header, []byte) {
	return http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}, []byte("slow down")
}
func (echoDialect) Handler(s *Sim) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := CallOf(r)
		c.Op = "create_key"
		acc := r.URL.Query().Get("account")
		k, err := s.CreateKey(KeySpec{Exchange: "echo", Account: acc, Label: "x"})
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		c.Result = "created " + k.ID
		w.WriteHeader(http.StatusCreated)
	})
}

func TestConcurrentKeysAndDropAfter(t *testing.T) {
	s := New(Options{Seed: 1, Dialects: []Dialect{echoDialect{}}})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	acc, _ := s.CreateAccount("echo", "a", "")

	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(s.DialectURL("echo")+"/k?account="+acc.ID, "text/plain", nil)
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	keys := s.Keys("echo", acc.ID, false)
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k.Secret] || k.Secret == "" {
			t.Fatal("secrets not fresh and unique")
		}
		seen[k.Secret] = true
	}
	if len(keys) != 20 || len(s.Calls(CallFilter{Op: "create_key", Status: 201})) != 20 {
		t.Fatalf("keys %d, calls %d", len(keys), len(s.Calls(CallFilter{Op: "create_key"})))
	}

	// drop_after: the handler ran (a key exists), the client got no answer,
	// and the log records the status the handler chose.
	s.ResetCalls()
	s.SetFaults(Faults{DropAfter: 1})
	if _, err := http.Post(s.DialectURL("echo")+"/k?account="+acc.ID, "text/plain", nil); err == nil {
		t.Fatal("client got an answer despite drop_after")
	}
	calls := s.Calls(CallFilter{})
	if len(calls) != 1 || !calls[0].Dropped || calls[0].Status != 201 || calls[0].Fault != "drop_after" {
		t.Fatalf("calls = %+v", calls)
	}
	if got := len(s.Keys("echo", acc.ID, false)); got != 21 {
		t.Fatalf("keys after drop_after = %d, want 21", got)
	}
	if n := len(s.Calls(CallFilter{OnlyOK: true})); n != 1 {
		t.Fatalf("OnlyOK should count the dropped-after success, got %d", n)
	}
}

func TestSlowFaultStillAnswers(t *testing.T) {
	s := New(Options{Seed: 2, Dialects: []Dialect{echoDialect{}}})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	acc, _ := s.CreateAccount("echo", "a", "")
	s.SetFaults(Faults{Slow: 1, SlowDelay: 20 * time.Millisecond})
	resp, err := http.Post(s.DialectURL("echo")+"/k?account="+acc.ID, "text/plain", nil)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("slow call: %v %v", resp, err)
	}
	resp.Body.Close()
	calls := s.Calls(CallFilter{})
	if len(calls) != 1 || calls[0].Fault != "slow" || calls[0].Status != http.StatusCreated {
		t.Fatalf("calls = %+v", calls)
	}
	if s.InjectedFaults()["slow"] != 1 {
		t.Fatalf("injected = %v", s.InjectedFaults())
	}
}
