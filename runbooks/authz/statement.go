package authz

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// StatementVersion is the only statement format.
const StatementVersion = 1

// Statement is what an operator signs for one control action. Every field
// that says what the action is binds it: a statement for incident A, run R,
// step S, verb approve passes for nothing else, and only between IssuedAt
// and Expires, and (per run) only once — Nonce is remembered.
type Statement struct {
	Version  int    `json:"v"`
	Verb     Verb   `json:"verb"`
	Operator string `json:"operator"` // the signer's roster name ("engine" for the engine)
	// OnBehalfOf is set only in engine statements that relay an SMS reply:
	// the operator whose roster phone answered.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	Incident   string `json:"incident,omitempty"`
	Run        string `json:"run,omitempty"`  // Temporal run id (empty for exec: not yet known)
	Step       string `json:"step,omitempty"` // approve/deny: the gate
	// Runbook, RunbookHash and Inputs bind exec and drill.schedule to what
	// runs: the definition's sha256 and StartHash of inputs and event.
	Runbook     string `json:"runbook,omitempty"`
	RunbookHash string `json:"runbook_hash,omitempty"`
	// Definition is runbooks.DefinitionDigest of the definition and action
	// metadata that run: what the worker registers runbooks by.
	Definition string `json:"definition,omitempty"`
	Inputs     string `json:"inputs,omitempty"`
	// Options is the hash of how an exec runs beside what (the blast-radius
	// hold and its reason, the audit trail on or off): a copied statement
	// cannot start the same incident unheld or unaudited.
	Options  string `json:"options,omitempty"`
	Trigger  string `json:"trigger,omitempty"`  // exec: manual, event, fleet, drill
	Schedule string `json:"schedule,omitempty"` // drill verbs
	Comment  string `json:"comment,omitempty"`
	// Evidence is the sha256 of a manual evidence payload.
	Evidence string    `json:"evidence,omitempty"`
	IssuedAt time.Time `json:"issued_at"`
	Expires  time.Time `json:"expires"`
	Nonce    string    `json:"nonce"`
	Factor   *Factor   `json:"factor,omitempty"`
}

// Factor is the second factor a statement carries. The code is single use
// (the workflow remembers it) and short lived, and it travels only inside
// the payload-encrypted Update, so it is worthless once read.
type Factor struct {
	Kind string `json:"kind"` // FactorTOTP, FactorSMS, FactorSMSReply
	Code string `json:"code,omitempty"`
}

// Signed is a statement and its signature as sent: Statement holds the exact
// JSON bytes that were signed (never re-encoded, so verification does not
// depend on how anyone marshals), Signature an armored SSHSIG over them.
type Signed struct {
	Statement string `json:"statement"`
	Signature string `json:"signature"`
}

// Encode marshals s for signing.
func (s Statement) Encode() ([]byte, error) {
	if s.Version == 0 {
		s.Version = StatementVersion
	}
	return json.Marshal(s)
}

// Decode parses the signed statement (without verifying it).
func (sg Signed) Decode() (Statement, error) {
	var s Statement
	if sg.Statement == "" {
		return s, errors.New("no statement")
	}
	if err := json.Unmarshal([]byte(sg.Statement), &s); err != nil {
		return s, fmt.Errorf("statement: %w", err)
	}
	if s.Version != StatementVersion {
		return s, fmt.Errorf("statement version %d (want %d)", s.Version, StatementVersion)
	}
	return s, nil
}

// StartHash binds an exec or drill statement to the inputs and event an
// incident starts with: sha256 over their JSON (map keys sorted by
// encoding/json), so the same values hash the same on both sides of
// Temporal's JSON payloads.
func StartHash(inputs, event map[string]any) string {
	b, err := json.Marshal(struct {
		Inputs map[string]any `json:"inputs"`
		Event  map[string]any `json:"event"`
	}{normalize(inputs), normalize(event)})
	if err != nil {
		return "unhashable:" + err.Error()
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// normalize takes values through one JSON round trip, so an int on the
// signer's side and the float64 it becomes in the workflow hash the same.
func normalize(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return m
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil {
		return m
	}
	return out
}

// DataHash is the sha256 of a JSON value (manual evidence).
func DataHash(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
