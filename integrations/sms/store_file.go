package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// FileStore is a SentLog and AckStore in one JSON file (mode 0600), for
// `runbook dev` and single-host installs. Every operation re-reads the file
// under an exclusive flock on "<path>.lock", and every change is written to
// a temporary file, synced and renamed over the old one, so the worker and a
// webhook in another process on the same host see each other's writes and a
// crash never leaves half a file.
type FileStore struct {
	path string
	mu   sync.Mutex // flock is per process: serialise our own goroutines too
}

// OpenFileStore opens (creating when absent) the store at path.
func OpenFileStore(path string) (*FileStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sms store: %w", err)
	}
	f := &FileStore{path: path}
	err := f.with(false, func(*storeState) error { return nil })
	return f, err
}

// with runs fn on the current state; when write is true it saves the state
// fn left behind.
func (f *FileStore) with(write bool, fn func(*storeState) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	lock, err := os.OpenFile(f.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("sms store: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("sms store: lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it anyway

	var st storeState
	b, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("sms store: %w", err)
	default:
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("sms store %s: %w", f.path, err)
		}
	}
	st.init()
	if err := fn(&st); err != nil {
		return err
	}
	if !write {
		return nil
	}
	return f.save(&st)
}

func (f *FileStore) save(st *storeState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".sms-store-*")
	if err != nil {
		return fmt.Errorf("sms store: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(b)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.path)
	}
	if err != nil {
		return fmt.Errorf("sms store: %w", err)
	}
	return nil
}

func (f *FileStore) Get(_ context.Context, key SentKey) (rec SentRecord, ok bool, err error) {
	err = f.with(false, func(st *storeState) error {
		rec, ok = st.Sent[key.ID()]
		return nil
	})
	return
}

func (f *FileStore) Put(_ context.Context, rec SentRecord) error {
	return f.with(true, func(st *storeState) error {
		st.Sent[rec.Key.ID()] = rec
		return nil
	})
}

func (f *FileStore) Expect(_ context.Context, p Pending) error {
	return f.with(true, func(st *storeState) error {
		st.expect(p)
		return nil
	})
}

func (f *FileStore) Pending(_ context.Context, code string) (p Pending, ok bool, err error) {
	err = f.with(false, func(st *storeState) error {
		p, ok = st.Pending[code]
		return nil
	})
	return
}

func (f *FileStore) Record(_ context.Context, a Answer) (dup bool, err error) {
	err = f.with(true, func(st *storeState) error {
		dup = st.record(a)
		return nil
	})
	return
}

func (f *FileStore) Answer(_ context.Context, code string) (a Answer, ok bool, err error) {
	err = f.with(false, func(st *storeState) error {
		a, ok = st.Answers[code]
		return nil
	})
	return
}
