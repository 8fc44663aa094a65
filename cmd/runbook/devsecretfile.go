package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
)

// createSecretFileOnce writes content() to path (mode 0600) if no file is
// there yet, and leaves an existing file alone: how `runbook dev`
// provisions its keys and tokens on first start and keeps them across
// restarts. The content goes to a temporary file first and is hard-linked
// into place: a crash mid-write leaves no empty key file that every later
// start would refuse, and link fails if the name exists, so two processes
// starting at once agree on one file.
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
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
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
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		return err // ErrExist: another process created it first
	}
	return nil
}

// randomKeyFile is a keyring file holding one fresh 32-byte key under id,
// after a comment line: the format of the event and audit keyrings.
func randomKeyFile(comment, id string) ([]byte, error) {
	secret := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, secret); err != nil {
		return nil, err
	}
	return []byte("# " + comment + "\n" + id + "=" + base64.StdEncoding.EncodeToString(secret) + "\n"), nil
}
