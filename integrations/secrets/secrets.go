// Package secrets stores secrets (new API keys) so that only a reference and
// a fingerprint ever travel through workflows, logs and outputs.
//
// Store is the interface the actions use. Backends: FileStore here (AES-GCM
// sealed files, the embedded default), vault (Vault / OpenBao KV v2) and
// natskv (a JetStream KV bucket, values sealed under a key file); the
// backend package opens the one a Config names. Values enter the store only
// from inside activities or from operators' own tooling, never from runbook
// files, events or command lines.
package secrets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Ref points at one version of a named secret. It is safe to log and to put
// in workflow outputs: it never contains the value.
type Ref struct {
	Name    string `json:"name"`
	Version int    `json:"version"` // 0 = the current version
	// Fingerprint is the first 12 hex digits of sha256(value): enough to
	// tell two secrets apart in an audit trail, useless to an attacker.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// String renders "name@version" (the form ParseRef reads).
func (r Ref) String() string {
	if r.Version == 0 {
		return r.Name
	}
	return r.Name + "@" + strconv.Itoa(r.Version)
}

// ParseRef reads "name" (current version) or "name@3".
func ParseRef(s string) (Ref, error) {
	name, ver, ok := strings.Cut(s, "@")
	r := Ref{Name: name}
	if ok {
		n, err := strconv.Atoi(ver)
		if err != nil || n < 1 {
			return Ref{}, fmt.Errorf("secret ref %q: bad version", s)
		}
		r.Version = n
	}
	if err := ValidName(r.Name); err != nil {
		return Ref{}, err
	}
	return r, nil
}

// Version describes one stored version (never its value).
type Version struct {
	Ref
	CreatedAt time.Time         `json:"created_at"`
	Meta      map[string]string `json:"meta,omitempty"`
	Current   bool              `json:"current"`
}

// Store keeps versioned secrets.
type Store interface {
	// Put stores value as a new version of name and makes it current.
	// meta is non-secret context (key id, incident, step).
	Put(ctx context.Context, name string, value []byte, meta map[string]string) (Ref, error)
	// Get returns the value of ref (Version 0 = current). ErrNotFound when
	// absent.
	Get(ctx context.Context, ref Ref) ([]byte, error)
	// Versions lists every version of name, oldest first.
	Versions(ctx context.Context, name string) ([]Version, error)
	// Rollback makes the version before the current one current again and
	// returns the ref of what is now current (versions are never deleted).
	// The file store moves its current pointer back, so the ref names the
	// earlier version; append-only backends (Vault, JetStream KV) write the
	// earlier value as a new version marked with MetaRestores, so the ref
	// names the new version. Either way Get(Ref{Name}) returns the earlier
	// value and the ref's fingerprint is the earlier version's.
	Rollback(ctx context.Context, name string) (Ref, error)
}

// ErrNotFound is returned for an unknown name or version.
var ErrNotFound = errors.New("secret not found")

// Fingerprint is the first 12 hex digits of sha256(value).
func Fingerprint(value []byte) string {
	sum := sha256.Sum256(value)
	return hex.EncodeToString(sum[:])[:12]
}

// ValidName accepts names made of letters, digits and . _ - / (no empty
// segments, no ".."), e.g. "binance/bot-1/api-key".
func ValidName(name string) error {
	if name == "" || len(name) > 200 {
		return fmt.Errorf("secret name %q: empty or too long", name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("secret name %q: bad path segment", name)
		}
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-/", c)) {
			return fmt.Errorf("secret name %q: character %q not allowed", name, c)
		}
	}
	return nil
}

// FindByMeta returns the newest version of name whose meta has key=value
// (how an action finds the secret it stored on an earlier attempt).
func FindByMeta(ctx context.Context, s Store, name, key, value string) (Version, bool, error) {
	vs, err := s.Versions(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return Version{}, false, nil
	}
	if err != nil {
		return Version{}, false, err
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Meta[key] == value {
			return vs[i], true, nil
		}
	}
	return Version{}, false, nil
}
