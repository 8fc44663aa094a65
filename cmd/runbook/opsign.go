package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// Operator-side signing for the drill verbs. TEMPORARY: the CLI slice owns
// key selection (`--key`, RUNBOOK_OPERATOR_KEY, ssh-agent, roster name);
// when it lands, its signer replaces this file and drillKeyFlag.

// drillKeyFlag is `drill --key FILE`.
var drillKeyFlag string

// operatorKeyPath is the key the CLI signs with: --key, then
// RUNBOOK_OPERATOR_KEY, then <home>/operator/id_ed25519 (what `runbook dev`
// provisions). A path ending in .pub names a key held by ssh-agent.
func (g *globals) operatorKeyPath() string {
	return pick(drillKeyFlag, os.Getenv("RUNBOOK_OPERATOR_KEY"), filepath.Join(g.homeDir(), "operator", "id_ed25519"))
}

func loadOperatorKey(path string) (ssh.Signer, string, error) {
	pubPath := path
	if !strings.HasSuffix(path, ".pub") {
		pubPath = path + ".pub"
	}
	pubLine, _ := os.ReadFile(pubPath)
	var s ssh.Signer
	var err error
	if strings.HasSuffix(path, ".pub") {
		if len(pubLine) == 0 {
			return nil, "", fmt.Errorf("operator key %s: cannot read the public key", path)
		}
		s, err = operatorkey.FromAgent(strings.TrimSpace(string(pubLine)))
	} else {
		s, err = operatorkey.Load(path)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("no operator key at %s: create one with `runbook dev` or pass --key FILE (env RUNBOOK_OPERATOR_KEY)", path)
	}
	if err != nil {
		return nil, "", fmt.Errorf("operator key: %w", err)
	}
	// The .pub comment (name@host) names its owner when nothing else does.
	comment := ""
	if f := strings.Fields(string(pubLine)); len(f) >= 3 {
		comment, _, _ = strings.Cut(f[2], "@")
	}
	return s, comment, nil
}

// signStatement signs st with the operator's key, as --as (or
// RUNBOOK_IDENTITY, or the key's comment, or the login name) unless st
// names the operator. The worker decides whether that name owns the key.
func (g *globals) signStatement(st authz.Statement) (*authz.Signed, error) {
	s, comment, err := loadOperatorKey(g.operatorKeyPath())
	if err != nil {
		return nil, err
	}
	if st.Operator == "" {
		login := ""
		if u, err := user.Current(); err == nil {
			login = u.Username
		}
		st.Operator = pick(g.identity, os.Getenv("RUNBOOK_IDENTITY"), comment, login)
	}
	now := time.Now().UTC()
	if st.IssuedAt.IsZero() {
		st.IssuedAt = now
	}
	if st.Expires.IsZero() {
		st.Expires = st.IssuedAt.Add(5 * time.Minute)
	}
	sg, err := operatorkey.Sign(s, st)
	if err != nil {
		return nil, err
	}
	return &sg, nil
}
