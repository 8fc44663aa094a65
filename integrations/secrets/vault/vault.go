// Package vault is a secrets.Store on HashiCorp Vault / OpenBao KV v2, through
// the official API client (github.com/hashicorp/vault/api).
//
// Each secret name is one KV v2 path under the mount (plus an optional
// prefix). Vault keeps the versions; every write is a check-and-set against
// the version this process last saw, so two writers never silently overwrite
// each other. Rollback writes the earlier version's data again as a new
// version (cas), which is what `vault kv rollback` does; KV v2 has no
// "current pointer" to move.
//
// A version's data holds the value ("value", or "value_base64" for bytes that
// are not UTF-8), its fingerprint and the non-secret meta, so an operator
// reading it with `vault kv get` sees a usable secret.
package vault

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/keyresponse/runbook/integrations/secrets"
)

// Config reaches one KV v2 mount.
type Config struct {
	// Address is the Vault / OpenBao URL, e.g. https://vault.internal:8200.
	Address string
	// Mount is the KV v2 mount path (default "secret").
	Mount string
	// Prefix is prepended to every secret name (e.g. "runbook/"), so the
	// engine's policy can be limited to one subtree.
	Prefix string
	// Token authenticates every request (X-Vault-Token). Load it from the
	// environment; it never belongs in a config file.
	Token string
	// HTTPClient overrides the transport (TLS settings, tests).
	HTTPClient *http.Client
	// Timeout bounds each request (default 10s).
	Timeout time.Duration
}

// Store implements secrets.Store on KV v2.
type Store struct {
	kv     *vaultapi.KVv2
	prefix string
}

var _ secrets.Store = (*Store)(nil)

// Open builds a client for cfg. It does not contact Vault: the first call
// does, so a worker starts while Vault is briefly away and retries per
// activity.
func Open(cfg Config) (*Store, error) {
	if cfg.Address == "" {
		return nil, errors.New("vault: address is required")
	}
	if cfg.Token == "" {
		return nil, errors.New("vault: token is empty (set the token environment variable)")
	}
	vc := vaultapi.DefaultConfig()
	if vc.Error != nil {
		return nil, fmt.Errorf("vault: %w", vc.Error)
	}
	vc.Address = cfg.Address
	if cfg.HTTPClient != nil {
		vc.HttpClient = cfg.HTTPClient
	}
	vc.Timeout = cfg.Timeout
	if vc.Timeout == 0 {
		vc.Timeout = 10 * time.Second
	}
	c, err := vaultapi.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	c.SetToken(cfg.Token)
	mount := strings.Trim(cfg.Mount, "/")
	if mount == "" {
		mount = "secret"
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Store{kv: c.KVv2(mount), prefix: prefix}, nil
}

func (s *Store) path(name string) string { return s.prefix + name }

// casMismatch is the error text Vault and OpenBao return on a lost cas.
// ("check-and-set parameter required for this call" is a mount setting, not
// a race, and surfaces as an error.)
const casMismatch = "check-and-set parameter did not match the current version"

func isCASConflict(err error) bool {
	var re *vaultapi.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusBadRequest {
		for _, e := range re.Errors {
			if strings.Contains(e, casMismatch) {
				return true
			}
		}
	}
	return false
}

func encode(value []byte, meta map[string]string) map[string]any {
	d := map[string]any{"fingerprint": secrets.Fingerprint(value)}
	if utf8.Valid(value) {
		d["value"] = string(value)
	} else {
		d["value_base64"] = base64.StdEncoding.EncodeToString(value)
	}
	if len(meta) > 0 {
		m := map[string]any{}
		for k, v := range meta {
			m[k] = v
		}
		d["meta"] = m
	}
	return d
}

func decodeValue(d map[string]any) ([]byte, error) {
	if v, ok := d["value"].(string); ok {
		return []byte(v), nil
	}
	if v, ok := d["value_base64"].(string); ok {
		return base64.StdEncoding.DecodeString(v)
	}
	return nil, errors.New("version holds no value field")
}

func decodeMeta(d map[string]any) map[string]string {
	m, _ := d["meta"].(map[string]any)
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// Put implements secrets.Store: a new version written with cas = the
// current version. A cas conflict with another Put is retried (adding a
// version commutes); it surfaces as secrets.ErrConflict after a few tries.
func (s *Store) Put(ctx context.Context, name string, value []byte, meta map[string]string) (secrets.Ref, error) {
	if err := secrets.ValidName(name); err != nil {
		return secrets.Ref{}, err
	}
	data := encode(value, meta)
	for try := 0; try < 5; try++ {
		cur, err := s.currentVersion(ctx, name)
		if err != nil {
			return secrets.Ref{}, err
		}
		out, err := s.kv.Put(ctx, s.path(name), data, vaultapi.WithCheckAndSet(cur))
		if isCASConflict(err) {
			continue
		}
		if err != nil {
			return secrets.Ref{}, fmt.Errorf("vault put %s: %w", name, err)
		}
		if out.VersionMetadata == nil {
			return secrets.Ref{}, fmt.Errorf("vault put %s: no version in the answer", name)
		}
		return secrets.Ref{Name: name, Version: out.VersionMetadata.Version, Fingerprint: secrets.Fingerprint(value)}, nil
	}
	return secrets.Ref{}, fmt.Errorf("vault put %s: %w", name, secrets.ErrConflict)
}

// currentVersion is 0 for a path that does not exist yet (cas 0 = create
// only).
func (s *Store) currentVersion(ctx context.Context, name string) (int, error) {
	md, err := s.kv.GetMetadata(ctx, s.path(name))
	if errors.Is(err, vaultapi.ErrSecretNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("vault metadata %s: %w", name, err)
	}
	return md.CurrentVersion, nil
}

func (s *Store) read(ctx context.Context, name string, version int) (*vaultapi.KVSecret, error) {
	var (
		sec *vaultapi.KVSecret
		err error
	)
	if version == 0 {
		sec, err = s.kv.Get(ctx, s.path(name))
	} else {
		sec, err = s.kv.GetVersion(ctx, s.path(name), version)
	}
	if errors.Is(err, vaultapi.ErrSecretNotFound) {
		return nil, secrets.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("vault get %s: %w", name, err)
	}
	if sec.Data == nil || sec.VersionMetadata == nil {
		return nil, secrets.ErrNotFound // deleted or destroyed version
	}
	return sec, nil
}

// Get implements secrets.Store.
func (s *Store) Get(ctx context.Context, ref secrets.Ref) ([]byte, error) {
	if err := secrets.ValidName(ref.Name); err != nil {
		return nil, err
	}
	sec, err := s.read(ctx, ref.Name, ref.Version)
	if err != nil {
		return nil, err
	}
	value, err := decodeValue(sec.Data)
	if err != nil {
		return nil, fmt.Errorf("secret %s@%d: %w", ref.Name, sec.VersionMetadata.Version, err)
	}
	fp := secrets.Fingerprint(value)
	if stored, _ := sec.Data["fingerprint"].(string); stored != "" && stored != fp {
		return nil, fmt.Errorf("secret %s@%d: stored fingerprint does not match the value", ref.Name, sec.VersionMetadata.Version)
	}
	if ref.Fingerprint != "" && ref.Fingerprint != fp {
		return nil, fmt.Errorf("secret %s@%d: fingerprint mismatch", ref.Name, sec.VersionMetadata.Version)
	}
	return value, nil
}

// Versions implements secrets.Store. Deleted or destroyed versions are
// listed with meta state=deleted|destroyed and no fingerprint.
func (s *Store) Versions(ctx context.Context, name string) ([]secrets.Version, error) {
	vs, _, err := s.list(ctx, name)
	return vs, err
}

func (s *Store) list(ctx context.Context, name string) ([]secrets.Version, int, error) {
	if err := secrets.ValidName(name); err != nil {
		return nil, 0, err
	}
	md, err := s.kv.GetMetadata(ctx, s.path(name))
	if errors.Is(err, vaultapi.ErrSecretNotFound) {
		return nil, 0, secrets.ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("vault metadata %s: %w", name, err)
	}
	nums := make([]int, 0, len(md.Versions))
	for k := range md.Versions {
		n, err := strconv.Atoi(k)
		if err != nil {
			return nil, 0, fmt.Errorf("vault metadata %s: version %q", name, k)
		}
		nums = append(nums, n)
	}
	sort.Ints(nums)
	out := make([]secrets.Version, 0, len(nums))
	for _, n := range nums {
		vm := md.Versions[strconv.Itoa(n)]
		v := secrets.Version{Ref: secrets.Ref{Name: name, Version: n}, CreatedAt: vm.CreatedTime,
			Current: n == md.CurrentVersion}
		switch {
		case vm.Destroyed:
			v.Meta = map[string]string{"state": "destroyed"}
		case !vm.DeletionTime.IsZero():
			v.Meta = map[string]string{"state": "deleted"}
		default:
			sec, err := s.read(ctx, name, n)
			if errors.Is(err, secrets.ErrNotFound) {
				v.Meta = map[string]string{"state": "deleted"}
				break
			}
			if err != nil {
				return nil, 0, err
			}
			v.Fingerprint, _ = sec.Data["fingerprint"].(string)
			v.Meta = decodeMeta(sec.Data)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, 0, secrets.ErrNotFound
	}
	return out, md.CurrentVersion, nil
}

// Rollback implements secrets.Store: it writes the value of the version
// before the current one (see secrets.RollbackTarget) as a new version, with
// cas = the current version it read. If someone wrote in between it fails
// with secrets.ErrConflict rather than rolling back past their write. The
// returned ref is the new (now current) version.
func (s *Store) Rollback(ctx context.Context, name string) (secrets.Ref, error) {
	vs, cur, err := s.list(ctx, name)
	if err != nil {
		return secrets.Ref{}, err
	}
	live := vs[:0:0]
	for _, v := range vs {
		if v.Meta["state"] == "" || v.Current {
			live = append(live, v)
		}
	}
	target, err := secrets.RollbackTarget(live)
	if err != nil {
		return secrets.Ref{}, err
	}
	value, err := s.Get(ctx, target.Ref)
	if err != nil {
		return secrets.Ref{}, fmt.Errorf("rollback %s to version %d: %w", name, target.Version, err)
	}
	out, err := s.kv.Put(ctx, s.path(name), encode(value, secrets.RestoredMeta(target)), vaultapi.WithCheckAndSet(cur))
	if isCASConflict(err) {
		return secrets.Ref{}, fmt.Errorf("rollback %s: %w (version %d is no longer current)", name, secrets.ErrConflict, cur)
	}
	if err != nil {
		return secrets.Ref{}, fmt.Errorf("rollback %s: %w", name, err)
	}
	return secrets.Ref{Name: name, Version: out.VersionMetadata.Version, Fingerprint: target.Fingerprint}, nil
}
