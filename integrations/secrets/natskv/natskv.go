// Package natskv is a secrets.Store on a JetStream key-value bucket, for
// clusters that run NATS but no Vault.
//
// JetStream does not encrypt for us in a way that keeps the value from
// whoever can read the stream, so every value is sealed with AES-256-GCM
// under a data key file (the same format and 0600 rule as the file store;
// secrets.LoadKey) before it is published. Only non-secret facts travel in
// clear: name, version, time, meta, fingerprint.
//
// Versions are the key's KV history (the bucket keeps up to 64 revisions,
// JetStream's maximum): a version older than that is gone. Writes are
// optimistic: Create for a new name, Update(revision) otherwise, so a write
// based on a stale read fails instead of overwriting. Rollback appends the
// earlier version's value as a new version (secrets.RollbackTarget).
package natskv

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/integrations/secrets"
)

// History is how many revisions per key the bucket keeps (JetStream's
// maximum).
const History = 64

// Store implements secrets.Store on a KV bucket.
type Store struct {
	kv   jetstream.KeyValue
	aead cipher.AEAD
	now  func() time.Time
}

var _ secrets.Store = (*Store)(nil)

// Open creates or updates bucket (file storage, History revisions per key)
// and returns a store sealing values with the key in keyFile (created 0600
// when missing).
func Open(ctx context.Context, js jetstream.JetStream, bucket, keyFile string) (*Store, error) {
	if keyFile == "" {
		return nil, errors.New("nats-kv secrets: a key file is required (values are encrypted with it)")
	}
	if bucket == "" {
		bucket = "secrets"
	}
	key, err := secrets.LoadKey(keyFile, true)
	if err != nil {
		return nil, err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "runbook secret store (values AES-256-GCM sealed)",
		History:     History,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("nats-kv secrets: bucket %s: %w", bucket, err)
	}
	return New(kv, key)
}

// New wraps an existing bucket; key is the 32-byte data key.
func New(kv jetstream.KeyValue, key []byte) (*Store, error) {
	aead, err := secrets.NewAEAD(key)
	if err != nil {
		return nil, err
	}
	return &Store{kv: kv, aead: aead, now: time.Now}, nil
}

// Key is the KV key of a secret name. Names may hold characters KV keys
// give meaning to ('.' separates tokens, ".." is invalid), so the name is
// hex-encoded; the name itself is inside the entry.
func Key(name string) string { return "s." + hex.EncodeToString([]byte(name)) }

// entry is what one KV revision holds.
type entry struct {
	Name        string            `json:"name"`
	Version     int               `json:"version"`
	CreatedAt   time.Time         `json:"created_at"`
	Meta        map[string]string `json:"meta,omitempty"`
	Fingerprint string            `json:"fingerprint"`
	Nonce       []byte            `json:"nonce"`
	Sealed      []byte            `json:"sealed"`
}

func (s *Store) seal(name string, version int, value []byte, meta map[string]string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	e := entry{Name: name, Version: version, CreatedAt: s.now().UTC(), Meta: meta,
		Fingerprint: secrets.Fingerprint(value), Nonce: nonce,
		Sealed: s.aead.Seal(nil, nonce, value, secrets.AAD(name, version))}
	return json.Marshal(e)
}

func (s *Store) open(name string, e entry) ([]byte, error) {
	if e.Name != name {
		return nil, fmt.Errorf("secret %s: KV entry holds %q", name, e.Name)
	}
	v, err := s.aead.Open(nil, e.Nonce, e.Sealed, secrets.AAD(name, e.Version))
	if err != nil {
		return nil, fmt.Errorf("secret %s@%d: cannot decrypt (wrong key file?)", name, e.Version)
	}
	return v, nil
}

func decode(kve jetstream.KeyValueEntry) (entry, error) {
	var e entry
	if err := json.Unmarshal(kve.Value(), &e); err != nil {
		return e, fmt.Errorf("KV revision %d: %w", kve.Revision(), err)
	}
	return e, nil
}

// latest returns the current entry and its KV revision; ErrNotFound when the
// key is absent or deleted.
func (s *Store) latest(ctx context.Context, name string) (entry, uint64, error) {
	kve, err := s.kv.Get(ctx, Key(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return entry{}, 0, secrets.ErrNotFound
	}
	if err != nil {
		return entry{}, 0, fmt.Errorf("nats-kv get %s: %w", name, err)
	}
	e, err := decode(kve)
	return e, kve.Revision(), err
}

func conflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// Put implements secrets.Store. A lost race with another Put is retried
// (adding a version commutes); persistent contention is secrets.ErrConflict.
func (s *Store) Put(ctx context.Context, name string, value []byte, meta map[string]string) (secrets.Ref, error) {
	if err := secrets.ValidName(name); err != nil {
		return secrets.Ref{}, err
	}
	m := map[string]string{}
	for k, v := range meta {
		m[k] = v
	}
	for try := 0; try < 5; try++ {
		prev, rev, err := s.latest(ctx, name)
		notFound := errors.Is(err, secrets.ErrNotFound)
		if err != nil && !notFound {
			return secrets.Ref{}, err
		}
		version := prev.Version + 1
		b, err := s.seal(name, version, value, m)
		if err != nil {
			return secrets.Ref{}, err
		}
		if notFound {
			_, err = s.kv.Create(ctx, Key(name), b)
		} else {
			_, err = s.kv.Update(ctx, Key(name), b, rev)
		}
		if conflict(err) {
			continue
		}
		if err != nil {
			return secrets.Ref{}, fmt.Errorf("nats-kv put %s: %w", name, err)
		}
		return secrets.Ref{Name: name, Version: version, Fingerprint: secrets.Fingerprint(value)}, nil
	}
	return secrets.Ref{}, fmt.Errorf("nats-kv put %s: %w", name, secrets.ErrConflict)
}

// history returns the live entries of name, oldest first.
func (s *Store) history(ctx context.Context, name string) ([]entry, error) {
	if err := secrets.ValidName(name); err != nil {
		return nil, err
	}
	kves, err := s.kv.History(ctx, Key(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, secrets.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("nats-kv history %s: %w", name, err)
	}
	var out []entry
	for _, kve := range kves {
		if kve.Operation() != jetstream.KeyValuePut {
			out = nil // a delete or purge ends what came before
			continue
		}
		e, err := decode(kve)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, secrets.ErrNotFound
	}
	return out, nil
}

// Get implements secrets.Store.
func (s *Store) Get(ctx context.Context, ref secrets.Ref) ([]byte, error) {
	if err := secrets.ValidName(ref.Name); err != nil {
		return nil, err
	}
	var (
		e   entry
		err error
	)
	if ref.Version == 0 {
		e, _, err = s.latest(ctx, ref.Name)
	} else {
		e, err = s.version(ctx, ref.Name, ref.Version)
	}
	if err != nil {
		return nil, err
	}
	if ref.Fingerprint != "" && ref.Fingerprint != e.Fingerprint {
		return nil, fmt.Errorf("secret %s@%d: fingerprint mismatch", ref.Name, e.Version)
	}
	return s.open(ref.Name, e)
}

// version finds one version in the history; ErrNotFound when it aged out.
func (s *Store) version(ctx context.Context, name string, version int) (entry, error) {
	es, err := s.history(ctx, name)
	if err != nil {
		return entry{}, err
	}
	for _, e := range es {
		if e.Version == version {
			return e, nil
		}
	}
	return entry{}, secrets.ErrNotFound
}

// Versions implements secrets.Store: the versions still in the bucket's
// history (at most History), oldest first.
func (s *Store) Versions(ctx context.Context, name string) ([]secrets.Version, error) {
	es, err := s.history(ctx, name)
	if err != nil {
		return nil, err
	}
	return versions(name, es), nil
}

func versions(name string, es []entry) []secrets.Version {
	out := make([]secrets.Version, 0, len(es))
	for i, e := range es {
		out = append(out, secrets.Version{Ref: secrets.Ref{Name: name, Version: e.Version, Fingerprint: e.Fingerprint},
			CreatedAt: e.CreatedAt, Meta: e.Meta, Current: i == len(es)-1})
	}
	return out
}

// Rollback implements secrets.Store: the earlier version's value becomes a
// new version, written with Update against the revision read, so a write in
// between fails with secrets.ErrConflict. The returned ref is the new
// current version.
func (s *Store) Rollback(ctx context.Context, name string) (secrets.Ref, error) {
	es, err := s.history(ctx, name)
	if err != nil {
		return secrets.Ref{}, err
	}
	target, err := secrets.RollbackTarget(versions(name, es))
	if err != nil {
		return secrets.Ref{}, err
	}
	var te entry
	for _, e := range es {
		if e.Version == target.Version {
			te = e
		}
	}
	value, err := s.open(name, te)
	if err != nil {
		return secrets.Ref{}, err
	}
	cur, rev, err := s.latest(ctx, name)
	if err != nil {
		return secrets.Ref{}, err
	}
	if cur.Version != es[len(es)-1].Version {
		return secrets.Ref{}, fmt.Errorf("rollback %s: %w", name, secrets.ErrConflict)
	}
	version := cur.Version + 1
	b, err := s.seal(name, version, value, secrets.RestoredMeta(target))
	if err != nil {
		return secrets.Ref{}, err
	}
	if _, err := s.kv.Update(ctx, Key(name), b, rev); conflict(err) {
		return secrets.Ref{}, fmt.Errorf("rollback %s: %w", name, secrets.ErrConflict)
	} else if err != nil {
		return secrets.Ref{}, fmt.Errorf("rollback %s: %w", name, err)
	}
	return secrets.Ref{Name: name, Version: version, Fingerprint: te.Fingerprint}, nil
}
