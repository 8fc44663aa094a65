package exchangesim

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// The admin API (JSON under /_sim/) drives the simulator from the CLI
// (`runbook exchangesim`, `runbook dev`) and from drills:
//
//	GET    /_sim/dialects                        names mounted
//	GET    /_sim/accounts?exchange=              accounts
//	POST   /_sim/accounts     {exchange,name,parent}
//	GET    /_sim/keys?exchange=&account=&revoked=1   keys, without secrets
//	POST   /_sim/keys         KeySpec            → Key with secret (seeding)
//	POST   /_sim/keys/leak    {exchange,id}      → Key with secret (the attacker's copy)
//	POST   /_sim/keys/revoke  {exchange,id}
//	POST   /_sim/balances     {account,asset,amount}
//	POST   /_sim/orders       Order              rest an order (demo data)
//	GET    /_sim/orders?account=
//	GET    /_sim/withdrawals
//	GET    /_sim/calls?exchange=&op=&key_id=&client_ip=&path=&status=
//	DELETE /_sim/calls
//	GET    /_sim/faults   PUT /_sim/faults Faults   DELETE /_sim/faults
//	POST   /_sim/demo                            → Demo (see demo.go)
//
// Only the seeding endpoints return secrets: the simulator is a local test
// double whose keys guard nothing.
func (s *Sim) serveAdmin(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/_sim")
	q := r.URL.Query()
	switch {
	case path == "/dialects" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Dialects())
	case path == "/accounts" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Accounts(q.Get("exchange")))
	case path == "/accounts" && r.Method == http.MethodPost:
		var in struct{ Exchange, Name, Parent string }
		if !readJSON(w, r, &in) {
			return
		}
		a, err := s.CreateAccount(in.Exchange, in.Name, in.Parent)
		writeResult(w, a, err)
	case path == "/keys" && r.Method == http.MethodGet:
		keys := s.Keys(q.Get("exchange"), q.Get("account"), q.Get("revoked") != "")
		for i := range keys {
			keys[i] = keys[i].Public()
		}
		writeJSON(w, http.StatusOK, keys)
	case path == "/keys" && r.Method == http.MethodPost:
		var in KeySpec
		if !readJSON(w, r, &in) {
			return
		}
		k, err := s.CreateKey(in)
		writeResult(w, k, err)
	case path == "/keys/leak" && r.Method == http.MethodPost:
		var in struct{ Exchange, ID string }
		if !readJSON(w, r, &in) {
			return
		}
		k, err := s.LeakKey(in.Exchange, in.ID)
		writeResult(w, k, err)
	case path == "/keys/revoke" && r.Method == http.MethodPost:
		var in struct{ Exchange, ID string }
		if !readJSON(w, r, &in) {
			return
		}
		writeResult(w, map[string]bool{"revoked": true}, s.RevokeKey(in.Exchange, in.ID))
	case path == "/balances" && r.Method == http.MethodPost:
		var in struct {
			Account, Asset string
			Amount         float64
		}
		if !readJSON(w, r, &in) {
			return
		}
		s.SetBalance(in.Account, in.Asset, in.Amount)
		writeJSON(w, http.StatusOK, s.Balances(in.Account))
	case path == "/orders" && r.Method == http.MethodPost:
		var in Order
		if !readJSON(w, r, &in) {
			return
		}
		o, err := s.PlaceOrder(in)
		writeResult(w, o, err)
	case path == "/orders" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.OpenOrders(q.Get("account"), q.Get("symbol")))
	case path == "/withdrawals" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Withdrawals())
	case path == "/calls" && r.Method == http.MethodGet:
		f := CallFilter{Exchange: q.Get("exchange"), Op: q.Get("op"), KeyID: q.Get("key_id"),
			ClientIP: q.Get("client_ip"), Path: q.Get("path"), OnlyOK: q.Get("only_ok") != ""}
		writeJSON(w, http.StatusOK, s.Calls(f))
	case path == "/calls" && r.Method == http.MethodDelete:
		s.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	case path == "/faults" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"faults": s.Faults(), "injected": s.InjectedFaults()})
	case path == "/faults" && r.Method == http.MethodPut:
		var in Faults
		if !readJSON(w, r, &in) {
			return
		}
		s.SetFaults(in)
		writeJSON(w, http.StatusOK, s.Faults())
	case path == "/faults" && r.Method == http.MethodDelete:
		s.SetFaults(Faults{})
		w.WriteHeader(http.StatusNoContent)
	case path == "/demo" && r.Method == http.MethodPost:
		d, err := s.SeedDemo(DemoOptions{})
		writeResult(w, d, err)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such admin endpoint"})
	}
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return false
	}
	return true
}

func writeResult(w http.ResponseWriter, v any, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, v)
	case errors.Is(err, ErrNoAccount), errors.Is(err, ErrNoKey):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteJSON is the dialects' helper to answer with a JSON body.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }
