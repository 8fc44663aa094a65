// Package vaultsim is a small in-memory server speaking the HashiCorp Vault /
// OpenBao KV v2 HTTP API subset the vault store uses, for tests and the dev
// stack:
//
//	GET  /v1/<mount>/data/<path>[?version=N]   read the current or one version
//	POST /v1/<mount>/data/<path>  (or PUT)     write {"data":{…},"options":{"cas":N}}
//	GET  /v1/<mount>/metadata/<path>           versions, current_version
//
// It checks X-Vault-Token on every request (403 "permission denied"), applies
// check-and-set like Vault (cas 0 = only if absent, cas N = only if N is the
// current version, 400 "check-and-set parameter did not match the current
// version"), can require cas on every write (cas_required) and trims to
// max_versions. Response bodies have Vault's shape, so the official client
// parses them as it parses Vault's.
package vaultsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is the simulator; use it as an http.Handler.
type Server struct {
	// Token is the only token accepted.
	Token string
	// Mount is the KV v2 mount path (default "secret").
	Mount string
	// CASRequired makes every write without options.cas fail, like a mount
	// configured with cas_required=true.
	CASRequired bool
	// MaxVersions trims the oldest versions past this many (0 = Vault's
	// default of 10).
	MaxVersions int

	mu        sync.Mutex
	paths     map[string]*entry
	now       func() time.Time
	writes    int
	reqID     int
	denied    int // requests refused for a bad token
	conflicts int // cas mismatches answered
}

type version struct {
	data    map[string]any
	created time.Time
}

type entry struct {
	versions map[int]*version
	current  int
	oldest   int
	created  time.Time
	updated  time.Time
}

// New returns a simulator accepting token on mount.
func New(token, mount string) *Server {
	return &Server{Token: token, Mount: mount}
}

func (s *Server) mount() string {
	if s.Mount == "" {
		return "secret"
	}
	return strings.Trim(s.Mount, "/")
}

// Data returns a copy of the stored data of path at version (0 = current),
// as Vault holds it: what an operator with `vault kv get` would see.
func (s *Server) Data(path string, version int) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.paths[path]
	if e == nil {
		return nil, false
	}
	if version == 0 {
		version = e.current
	}
	v := e.versions[version]
	if v == nil {
		return nil, false
	}
	b, _ := json.Marshal(v.data)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out, true
}

// Denied counts requests refused for a bad token.
func (s *Server) Denied() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.denied
}

// Conflicts counts writes refused for a cas mismatch.
func (s *Server) Conflicts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conflicts
}

// Writes counts accepted writes.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Vault-Token") != s.Token || s.Token == "" {
		s.mu.Lock()
		s.denied++
		s.mu.Unlock()
		writeErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	prefix := "/v1/" + s.mount() + "/"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		writeErrors(w, http.StatusNotFound, "no handler for route \""+strings.TrimPrefix(r.URL.Path, "/v1/")+"\". route entry not found.")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, prefix)
	kind, path, _ := strings.Cut(rest, "/")
	if path == "" {
		writeErrors(w, http.StatusNotFound)
		return
	}
	switch {
	case kind == "data" && r.Method == http.MethodGet:
		s.read(w, r, path)
	case kind == "data" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		s.write(w, r, path)
	case kind == "metadata" && r.Method == http.MethodGet:
		s.metadata(w, path)
	default:
		writeErrors(w, http.StatusMethodNotAllowed, "unsupported operation")
	}
}

func (s *Server) clock() time.Time {
	if s.now != nil {
		return s.now().UTC()
	}
	return time.Now().UTC()
}

func (s *Server) read(w http.ResponseWriter, r *http.Request, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.paths[path]
	if e == nil {
		writeErrors(w, http.StatusNotFound)
		return
	}
	n := e.current
	if q := r.URL.Query().Get("version"); q != "" && q != "0" {
		var err error
		if n, err = strconv.Atoi(q); err != nil {
			writeErrors(w, http.StatusBadRequest, "invalid version")
			return
		}
	}
	v := e.versions[n]
	if v == nil {
		writeErrors(w, http.StatusNotFound)
		return
	}
	s.respond(w, map[string]any{"data": v.data, "metadata": versionMeta(n, v)})
}

type writeBody struct {
	Data    map[string]any `json:"data"`
	Options map[string]any `json:"options"`
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, path string) {
	var body writeBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeErrors(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
		return
	}
	if body.Data == nil {
		writeErrors(w, http.StatusBadRequest, "no data provided")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paths == nil {
		s.paths = map[string]*entry{}
	}
	e := s.paths[path]
	current := 0
	if e != nil {
		current = e.current
	}
	casRaw, hasCAS := body.Options["cas"]
	if !hasCAS && s.CASRequired {
		writeErrors(w, http.StatusBadRequest, "check-and-set parameter required for this call")
		return
	}
	if hasCAS {
		cas, ok := casRaw.(float64)
		if !ok || int(cas) != current {
			s.conflicts++
			writeErrors(w, http.StatusBadRequest, "check-and-set parameter did not match the current version")
			return
		}
	}
	now := s.clock()
	if e == nil {
		e = &entry{versions: map[int]*version{}, oldest: 1, created: now}
		s.paths[path] = e
	}
	e.current++
	v := &version{data: body.Data, created: now}
	e.versions[e.current] = v
	e.updated = now
	maxV := s.MaxVersions
	if maxV == 0 {
		maxV = 10
	}
	for len(e.versions) > maxV {
		delete(e.versions, e.oldest)
		e.oldest++
	}
	s.writes++
	s.respond(w, versionMeta(e.current, v))
}

func (s *Server) metadata(w http.ResponseWriter, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.paths[path]
	if e == nil {
		writeErrors(w, http.StatusNotFound)
		return
	}
	vs := map[string]any{}
	for n, v := range e.versions {
		vs[strconv.Itoa(n)] = map[string]any{"created_time": v.created.Format(time.RFC3339Nano), "deletion_time": "", "destroyed": false}
	}
	s.respond(w, map[string]any{
		"cas_required": s.CASRequired, "created_time": e.created.Format(time.RFC3339Nano),
		"current_version": e.current, "custom_metadata": nil, "delete_version_after": "0s",
		"max_versions": s.MaxVersions, "oldest_version": e.oldest, "updated_time": e.updated.Format(time.RFC3339Nano),
		"versions": vs,
	})
}

func versionMeta(n int, v *version) map[string]any {
	return map[string]any{"created_time": v.created.Format(time.RFC3339Nano), "custom_metadata": nil,
		"deletion_time": "", "destroyed": false, "version": n}
}

// respond wraps data in Vault's response envelope.
func (s *Server) respond(w http.ResponseWriter, data map[string]any) {
	s.reqID++
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"request_id": "sim-" + strconv.Itoa(s.reqID), "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": data, "wrap_info": nil, "warnings": nil, "auth": nil,
	})
}

func writeErrors(w http.ResponseWriter, code int, errs ...string) {
	if errs == nil {
		errs = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"errors": errs})
}
