package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// statementTTL is how long a statement the CLI signs stays good: long
// enough for a slow Temporal round trip, well under authz.DefaultMaxAge.
const statementTTL = 5 * time.Minute

// operatorID is who this CLI signs as: the key it signs with and the roster
// name it claims. The claim is only a claim — the worker checks the
// signature against its own roster and refuses a name that does not own
// the key — so a wrong guess here costs a clear refusal, never a forgery.
type operatorID struct {
	Signer  ssh.Signer
	KeyPath string // the private key file, or the .pub of an ssh-agent key
	Agent   bool
	// Name is the claimed roster name; NameFrom says where it came from
	// ("roster", "--as", "key comment", "$USER").
	Name     string
	NameFrom string
	// Entry is the roster entry owning the key, when the roster is readable.
	Entry   *authz.Operator
	Comment string // the public key's comment, if any
}

// Fingerprint is the signing key's SHA256 fingerprint.
func (o *operatorID) Fingerprint() string { return authz.Fingerprint(o.Signer.PublicKey()) }

// operatorKeyPath is the one place that says which key the CLI signs with:
// --key, then RUNBOOK_OPERATOR_KEY, then <home>/operator/id_ed25519 (what
// `runbook dev` provisions for the local user).
func (g *globals) operatorKeyPath() string {
	return pick(g.keyFile, os.Getenv("RUNBOOK_OPERATOR_KEY"), g.defaultOperatorKey())
}

func (g *globals) defaultOperatorKey() string { return devOperatorKey(g.homeDir()) }

// operatorPublicKey is the public half of the selected key, read from the
// .pub file (so printing a roster line needs neither the private key nor
// the agent); its comment comes along.
func (g *globals) operatorPublicKey() (ssh.PublicKey, string, error) {
	path := g.operatorKeyPath()
	pubPath := path
	if !strings.HasSuffix(path, ".pub") {
		pubPath = path + ".pub"
	}
	b, err := os.ReadFile(pubPath)
	if err != nil {
		if s, lerr := operatorkey.Load(path); lerr == nil {
			return s.PublicKey(), "", nil
		}
		return nil, "", fmt.Errorf("operator key: %w", err)
	}
	pub, err := authz.ParsePublicKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", pubPath, err)
	}
	return pub, keyComment(string(b)), nil
}

// operatorID loads the signing key and works out who it belongs to. A path
// ending in .pub means "the ssh-agent key with this public key" (so a
// passphrase-protected or hardware-held key never touches this process).
func (g *globals) operatorID() (*operatorID, error) {
	path := g.operatorKeyPath()
	o := &operatorID{KeyPath: path}
	if strings.HasSuffix(path, ".pub") {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("operator key: %w", err)
		}
		line := strings.TrimSpace(string(b))
		if o.Signer, err = operatorkey.FromAgent(line); err != nil {
			return nil, fmt.Errorf("operator key %s: %w", path, err)
		}
		o.Agent = true
		o.Comment = keyComment(line)
	} else {
		s, err := operatorkey.Load(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no operator key at %s: `runbook dev` provisions one for the local user; elsewhere make one with `runbook operator keygen` and pass it with --key (or RUNBOOK_OPERATOR_KEY)", path)
		}
		if err != nil {
			return nil, fmt.Errorf("operator key: %w", err)
		}
		o.Signer = s
		if b, err := os.ReadFile(path + ".pub"); err == nil {
			o.Comment = keyComment(string(b))
		}
	}
	roster := g.roster()
	for i := range roster {
		if ownsKey(roster[i], o.Signer.PublicKey()) {
			o.Entry = &roster[i]
			break
		}
	}
	fromComment, commentOK := commentName(o.Comment)
	switch {
	case g.identity != "":
		o.Name, o.NameFrom = g.identity, "--as"
	case o.Entry != nil:
		o.Name, o.NameFrom = o.Entry.Name, "roster"
	case commentOK:
		o.Name, o.NameFrom = fromComment, "key comment"
	default:
		o.Name, o.NameFrom = localOperatorName(), "$USER"
	}
	return o, nil
}

// sign signs st as o (operator name and validity window filled in).
func (o *operatorID) sign(st authz.Statement) (*authz.Signed, error) {
	now := time.Now().UTC()
	st.Operator = o.Name
	st.IssuedAt = now
	st.Expires = now.Add(statementTTL)
	sg, err := operatorkey.Sign(o.Signer, st)
	if err != nil {
		return nil, err
	}
	return &sg, nil
}

// rosterName is the shape authz accepts for an operator name.
var rosterName = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)

// localOperatorName is $USER made into a roster name, exactly as
// `runbook dev` names the local operator (devOperatorName).
func localOperatorName() string { return devOperatorName(os.Getenv("USER")) }

// commentName is the roster name a key comment suggests: the comment
// itself, or its part before '@' ("alice@runbook-dev", as dev writes it).
func commentName(comment string) (string, bool) {
	for _, n := range []string{comment, strings.SplitN(comment, "@", 2)[0]} {
		if rosterName.MatchString(n) && n != authz.EngineName {
			return n, true
		}
	}
	return "", false
}

// keyComment is the comment of an authorized_keys line ("" if none).
func keyComment(line string) string {
	f := strings.Fields(strings.TrimSpace(line))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[2:], " ")
}

func ownsKey(op authz.Operator, pub ssh.PublicKey) bool {
	for _, line := range op.Keys {
		if k, err := authz.ParsePublicKey(line); err == nil && bytes.Equal(k.Marshal(), pub.Marshal()) {
			return true
		}
	}
	return false
}

// roster is the config file's operators: section, when the CLI has the
// config. It is only used to say who you are: the worker's copy is the one
// that decides.
func (g *globals) roster() []authz.Operator {
	var out []authz.Operator
	for _, o := range g.mustCfg().Operators {
		out = append(out, o.Operator)
	}
	return out
}
