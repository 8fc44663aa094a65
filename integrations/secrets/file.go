package secrets

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// FileStore keeps each secret name in one JSON file of AES-256-GCM sealed
// versions under Dir. The data key lives in KeyFile (32 random bytes, hex,
// mode 0600), created on first use. Writes go to a temp file that is synced
// and renamed, so a crash leaves the old or the new file, never half of one.
//
// One process at a time: the mutex serialises writers inside a process; two
// processes writing the same store concurrently are not supported.
type FileStore struct {
	dir     string
	keyFile string
	now     func() time.Time

	mu   sync.Mutex
	aead cipher.AEAD
}

var _ Store = (*FileStore)(nil)

// OpenFile opens (creating if needed) a store in dir. keyFile "" means
// dir/master.key.
func OpenFile(dir, keyFile string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if keyFile == "" {
		keyFile = filepath.Join(dir, "master.key")
	}
	key, err := LoadKey(keyFile, true)
	if err != nil {
		return nil, err
	}
	aead, err := NewAEAD(key)
	if err != nil {
		return nil, err
	}
	return &FileStore{dir: dir, keyFile: keyFile, now: time.Now, aead: aead}, nil
}

type fileVersion struct {
	Version     int               `json:"version"`
	CreatedAt   time.Time         `json:"created_at"`
	Meta        map[string]string `json:"meta,omitempty"`
	Fingerprint string            `json:"fingerprint"`
	Nonce       []byte            `json:"nonce"`
	Sealed      []byte            `json:"sealed"`
}

type fileSecret struct {
	Name     string        `json:"name"`
	Current  int           `json:"current"`
	Versions []fileVersion `json:"versions"`
}

func (s *FileStore) path(name string) string {
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(s.dir, "secrets", hex.EncodeToString(sum[:16])+".json")
}

func (s *FileStore) load(name string) (*fileSecret, error) {
	b, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var fsec fileSecret
	if err := json.Unmarshal(b, &fsec); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	if fsec.Name != name {
		return nil, fmt.Errorf("secret file for %s holds %q", name, fsec.Name)
	}
	return &fsec, nil
}

func (s *FileStore) save(fsec *fileSecret) error {
	p := s.path(fsec.Name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(fsec, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	// Sync the directory too: the rename is only durable once the
	// directory entry is on disk.
	if d, err := os.Open(filepath.Dir(p)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// aad binds a sealed value to its name and version, so ciphertexts cannot
// be swapped between entries in the file.
func aad(name string, version int) []byte { return []byte(name + "\x00" + strconv.Itoa(version)) }

// Put implements Store.
func (s *FileStore) Put(ctx context.Context, name string, value []byte, meta map[string]string) (Ref, error) {
	if err := ValidName(name); err != nil {
		return Ref{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fsec, err := s.load(name)
	if errors.Is(err, ErrNotFound) {
		fsec, err = &fileSecret{Name: name}, nil
	}
	if err != nil {
		return Ref{}, err
	}
	v := len(fsec.Versions) + 1
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Ref{}, err
	}
	m := map[string]string{}
	for k, x := range meta {
		m[k] = x
	}
	fv := fileVersion{Version: v, CreatedAt: s.now().UTC(), Meta: m, Fingerprint: Fingerprint(value),
		Nonce: nonce, Sealed: s.aead.Seal(nil, nonce, value, aad(name, v))}
	fsec.Versions = append(fsec.Versions, fv)
	fsec.Current = v
	if err := s.save(fsec); err != nil {
		return Ref{}, err
	}
	return Ref{Name: name, Version: v, Fingerprint: fv.Fingerprint}, nil
}

// Get implements Store.
func (s *FileStore) Get(ctx context.Context, ref Ref) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fsec, err := s.load(ref.Name)
	if err != nil {
		return nil, err
	}
	v := ref.Version
	if v == 0 {
		v = fsec.Current
	}
	if v < 1 || v > len(fsec.Versions) {
		return nil, ErrNotFound
	}
	fv := fsec.Versions[v-1]
	value, err := s.aead.Open(nil, fv.Nonce, fv.Sealed, aad(ref.Name, v))
	if err != nil {
		return nil, fmt.Errorf("secret %s@%d: cannot decrypt (wrong key file?)", ref.Name, v)
	}
	if ref.Fingerprint != "" && ref.Fingerprint != fv.Fingerprint {
		return nil, fmt.Errorf("secret %s@%d: fingerprint mismatch", ref.Name, v)
	}
	return value, nil
}

// Versions implements Store.
func (s *FileStore) Versions(ctx context.Context, name string) ([]Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fsec, err := s.load(name)
	if err != nil {
		return nil, err
	}
	out := make([]Version, 0, len(fsec.Versions))
	for _, fv := range fsec.Versions {
		out = append(out, Version{Ref: Ref{Name: name, Version: fv.Version, Fingerprint: fv.Fingerprint},
			CreatedAt: fv.CreatedAt, Meta: fv.Meta, Current: fv.Version == fsec.Current})
	}
	return out, nil
}

// Rollback implements Store.
func (s *FileStore) Rollback(ctx context.Context, name string) (Ref, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fsec, err := s.load(name)
	if err != nil {
		return Ref{}, err
	}
	if fsec.Current <= 1 {
		return Ref{}, fmt.Errorf("secret %s: no earlier version to roll back to", name)
	}
	fsec.Current--
	if err := s.save(fsec); err != nil {
		return Ref{}, err
	}
	fv := fsec.Versions[fsec.Current-1]
	return Ref{Name: name, Version: fv.Version, Fingerprint: fv.Fingerprint}, nil
}
