package main

import (
	"errors"
	"os"
	"path/filepath"
)

// createSecretFileOnce writes content() to path (mode 0600) if no file is
// there yet, and leaves an existing file alone: how `runbook dev`
// provisions its keys and tokens on first start and keeps them across
// restarts. O_EXCL, so two processes starting at once agree on one file.
func createSecretFileOnce(path string, content func() ([]byte, error)) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	b, err := content()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil // another process created it first
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
