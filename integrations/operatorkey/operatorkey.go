// Package operatorkey holds the operator's side of runbook/authz: making a
// key pair, loading a private key (an OpenSSH file or ssh-agent), and
// signing statements. Any ssh-ed25519 key works, including one already used
// for SSH or for git's SSH commit signing.
package operatorkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/keyresponse/runbook/runbooks/authz"
)

// Generate writes a new ed25519 key pair: path (OpenSSH private key, 0600,
// created exclusively — an existing key is never overwritten) and path.pub.
func Generate(path, comment string) (ssh.Signer, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(pem.EncodeToMemory(block)); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
	if comment != "" {
		line += " " + comment
	}
	if err := os.WriteFile(path+".pub", []byte(line+"\n"), 0o644); err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}

// Load reads an OpenSSH private key file. A passphrase-protected key is not
// decrypted here: load it into ssh-agent and use FromAgent.
func Load(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(b)
	var pp *ssh.PassphraseMissingError
	if errors.As(err, &pp) {
		return nil, fmt.Errorf("%s is passphrase-protected: add it to ssh-agent (ssh-add %s) and sign through the agent", path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.PublicKey().Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("%s: key type %s (operators' keys are ssh-ed25519)", path, s.PublicKey().Type())
	}
	return s, nil
}

// FromAgent finds the agent's signer for public key pub (an authorized_keys
// line) through SSH_AUTH_SOCK. The connection stays open for the process.
func FromAgent(pubLine string) (ssh.Signer, error) {
	want, err := authz.ParsePublicKey(pubLine)
	if err != nil {
		return nil, err
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, errors.New("SSH_AUTH_SOCK is not set: no ssh-agent to sign with")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("ssh-agent: %w", err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh-agent: %w", err)
	}
	for _, s := range signers {
		if string(s.PublicKey().Marshal()) == string(want.Marshal()) {
			return s, nil
		}
	}
	conn.Close()
	return nil, fmt.Errorf("ssh-agent has no key %s", authz.Fingerprint(want))
}

// AuthorizedKey is the roster form of s's public key, with comment.
func AuthorizedKey(pub ssh.PublicKey, comment string) string {
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	if comment != "" {
		line += " " + comment
	}
	return line
}

// Sign encodes st (filling Version and, when empty, Nonce) and signs it.
func Sign(s ssh.Signer, st authz.Statement) (authz.Signed, error) {
	if st.Nonce == "" {
		st.Nonce = NewNonce()
	}
	msg, err := st.Encode()
	if err != nil {
		return authz.Signed{}, err
	}
	sig, err := s.Sign(rand.Reader, authz.SignedData(msg))
	if err != nil {
		return authz.Signed{}, fmt.Errorf("sign: %w", err)
	}
	return authz.Signed{Statement: string(msg), Signature: authz.ArmorSignature(s.PublicKey(), sig)}, nil
}

// NewNonce is 128 random bits in hex.
func NewNonce() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}
