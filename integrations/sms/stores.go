package sms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// SentKey identifies one page: incident, run, step and recipient.
// notify.sms sends at most once per key (see SentLog). Run is the Temporal
// run id: a second run of the same incident id is a new incident and texts
// again (without it, run 2 found run 1's record and reported run 1's
// message SID as its own).
type SentKey struct {
	Incident  string `json:"incident"`
	Run       string `json:"run,omitempty"`
	Step      string `json:"step"`
	Recipient string `json:"recipient"` // E.164 number
}

// ID is a stable, opaque form of the key, safe as a JetStream KV key or a
// file name and free of the phone number. A key without Run hashes as keys
// did before runs were recorded, so old records stay readable (they simply
// never match a key that has a run).
func (k SentKey) ID() string {
	in := k.Incident + "\x00" + k.Step + "\x00" + k.Recipient
	if k.Run != "" {
		in += "\x00run\x00" + k.Run
	}
	s := sha256.Sum256([]byte(in))
	return hex.EncodeToString(s[:16])
}

// SentRecord is what was sent for a key. A record whose Error is set marks
// a recipient Twilio refused (invalid or opted-out number): it is skipped,
// not retried.
type SentRecord struct {
	Key        SentKey   `json:"key"`
	Person     string    `json:"person"`
	Level      int       `json:"level"`
	Code       string    `json:"code,omitempty"`
	MessageSID string    `json:"message_sid,omitempty"`
	Status     string    `json:"status,omitempty"`
	Error      string    `json:"error,omitempty"`
	SentAt     time.Time `json:"sent_at"`
}

// Failed reports whether this page reached nobody (refused at send, or
// Twilio later reported failed/undelivered).
func (r SentRecord) Failed() bool { return r.Error != "" || DeliveryFailed(r.Status) }

// SentLog is the idempotency record of notify.sms: Get before sending, Put
// right after Twilio accepted. Twilio's Messages API has no idempotency key,
// so this log is the only thing standing between a retry and a second text.
// Implementations: MemoryStore (tests, single process), FileStore (runbook
// dev); a cluster backs it with JetStream KV (use SentKey.ID as the key).
type SentLog interface {
	Get(ctx context.Context, key SentKey) (SentRecord, bool, error)
	// Put inserts or replaces the record (delivery status updates).
	Put(ctx context.Context, rec SentRecord) error
}

// Pending is an issued approval code: what an answer to it refers to.
type Pending struct {
	Code     string `json:"code"`
	Incident string `json:"incident"`
	// Run is the Temporal run that issued the code ("" in records written
	// before codes were per run: such a code cannot answer a gate).
	Run  string `json:"run,omitempty"`
	Step string `json:"step"` // the notify.sms step (or the gate) that sent it
	Gate string `json:"gate,omitempty"`
	// Operator, when set, is the only operator the code was texted to
	// (notify.ask_approvers): an answer from anyone else's phone is refused.
	Operator string    `json:"operator,omitempty"`
	Reply    Reply     `json:"reply"`
	IssuedAt time.Time `json:"issued_at"`
	// ExpiresAt ends the code ("" in old records: they never expire).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Expired reports whether the code can no longer be answered at now.
func (p Pending) Expired(now time.Time) bool {
	return !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt)
}

// ReplyKind is what on-call answered.
type ReplyKind string

const (
	AnswerAck     ReplyKind = "ack"
	AnswerApprove ReplyKind = "approve"
	AnswerDeny    ReplyKind = "deny"
)

// Answer is an on-call reply received by the webhook.
type Answer struct {
	Code       string    `json:"code"`
	Kind       ReplyKind `json:"kind"`
	Identity   string    `json:"identity"` // roster name
	Phone      string    `json:"phone"`
	MessageSID string    `json:"message_sid"`
	At         time.Time `json:"at"`
}

// AckStore links the two halves of a page: notify.sms registers the code it
// sends (Expect), the webhook checks an incoming code was issued (Pending)
// and records the answer (Record), and notify.sms stops escalating once
// there is one (Answer). The engine's Responder may use Pending to map a
// code to its incident and gate.
type AckStore interface {
	Expect(ctx context.Context, p Pending) error
	Pending(ctx context.Context, code string) (Pending, bool, error)
	// Record stores an answer; duplicate is true when the same inbound
	// message (MessageSID) was recorded before (Twilio retried the webhook).
	Record(ctx context.Context, a Answer) (duplicate bool, err error)
	// Answer returns the latest answer for code.
	Answer(ctx context.Context, code string) (Answer, bool, error)
}
