package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/audit/redact"
)

// Store appends records to the AUDIT stream, one hash chain per incident.
// It is safe for concurrent use, and several Stores (worker processes) may
// write the same incident: the chain stays linear through publish
// expectations, not through anything held in memory.
type Store struct {
	js       jetstream.JetStream
	redactor *redact.Redactor
	now      func() time.Time
	keys     Keys // signs every record; a Store without keys refuses to append

	mu     sync.Mutex
	stream jetstream.Stream // looked up once; the handle holds no state that goes stale
	chains map[string]*chain
	// conflicts counts publishes refused because another writer got there
	// first (observability for tests and metrics).
	conflicts atomic.Int64
}

// chain is what this process knows of one incident's subject: its tip and
// the idempotency keys already written. It is a cache: every Append first
// checks the subject's real tip and catches up with records others wrote.
type chain struct {
	mu        sync.Mutex // one append per incident at a time in this process
	streamSeq uint64     // stream sequence of the last message on the subject
	last      *Record
	keys      map[string]Record
}

// Option configures a Store.
type Option func(*Store)

// WithRedactor replaces redact.Default.
func WithRedactor(r *redact.Redactor) Option { return func(s *Store) { s.redactor = r } }

// WithKeys sets the audit keys every record is signed with. Required:
// Append refuses to write an unauthenticated record.
func WithKeys(k Keys) Option { return func(s *Store) { s.keys = k } }

// WithClock sets the clock used for records without a time (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// NewStore returns a store writing to the AUDIT stream, which must exist
// (EnsureStream).
func NewStore(js jetstream.JetStream, opts ...Option) *Store {
	s := &Store{js: js, redactor: redact.Default, now: time.Now, chains: map[string]*chain{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// maxConflicts bounds the retries when another writer extends the chain
// between our read of its tip and our publish. Each retry means someone
// else made progress, so this is only reached under pathological contention.
const maxConflicts = 100

// MsgID is the Nats-Msg-Id of a fact: deterministic in the incident, run
// and the caller's idempotency key, so JetStream drops a repeated publish
// inside its duplicate window. Incident and run are escaped with Token, so the two ':' after the prefix
// split it unambiguously whatever the key holds.
func MsgID(incidentID, run, key string) string {
	return "audit:" + Token(incidentID) + ":" + Token(run) + ":" + key
}

// factID is a fact's identity inside its incident's subject.
func factID(r Record) string { return r.Run + "\x00" + r.Key }

// Append redacts rec, chains it to the incident's last record (seq,
// prev_hash, hash) and publishes it. It returns the stored record. Writing a
// key that the incident's run already holds is a no-op that returns the
// record stored first, so activity retries and workflow replays never
// duplicate.
func (s *Store) Append(ctx context.Context, rec Record) (Record, error) {
	if rec.IncidentID == "" || rec.Key == "" {
		return Record{}, errors.New("audit: record needs incident_id and key")
	}
	if !rec.Kind.Known() {
		return Record{}, fmt.Errorf("audit: unknown record kind %q", rec.Kind)
	}
	if _, ok := s.keys.Ring[s.keys.Signing]; !ok || s.keys.Signing == "" {
		return Record{}, errors.New("audit: no audit signing key: the store was built without audit keys (WithKeys)")
	}
	rec.Attrs = s.redactor.Map(rec.Attrs)
	rec.Actor = s.redactor.String(rec.Actor)
	if rec.Time.IsZero() {
		rec.Time = s.now()
	}
	rec.Time = rec.Time.UTC()

	c := s.chain(rec.IncidentID)
	c.mu.Lock()
	defer c.mu.Unlock()
	subject := Subject(rec.IncidentID)
	for range maxConflicts {
		if err := s.catchUp(ctx, c, subject); err != nil {
			return Record{}, err
		}
		if prev, ok := c.keys[factID(rec)]; ok {
			return prev, nil
		}
		r := rec
		if err := r.SealSigned(c.last, s.keys); err != nil {
			return Record{}, err
		}
		data, err := json.Marshal(r)
		if err != nil {
			return Record{}, fmt.Errorf("audit: encode: %w", err)
		}
		msg := nats.NewMsg(subject)
		msg.Data = data
		ack, err := s.js.PublishMsg(ctx, msg,
			jetstream.WithMsgID(MsgID(rec.IncidentID, rec.Run, rec.Key)),
			jetstream.WithExpectStream(StreamName),
			jetstream.WithExpectLastSequencePerSubject(c.streamSeq))
		switch {
		case isWrongLastSeq(err):
			s.conflicts.Add(1)
			continue // another writer extended the chain: catch up and re-seal
		case err != nil:
			return Record{}, fmt.Errorf("audit: publish %s #%d: %w", rec.IncidentID, r.Seq, err)
		case ack.Duplicate:
			continue // the same key landed before (maybe by another process): catch up finds it
		}
		c.add(ack.Sequence, r)
		if r.Kind == IncidentClosed {
			// The incident is over: drop the cached keys. A late fact
			// (evidence after close, a retried close) rebuilds them from
			// the subject.
			s.forget(rec.IncidentID, c)
		}
		return r, nil
	}
	return Record{}, fmt.Errorf("audit: %s: gave up after %d chain conflicts", rec.IncidentID, maxConflicts)
}

// Conflicts is how many appends had to re-read the chain because another
// writer extended it first.
func (s *Store) Conflicts() int64 { return s.conflicts.Load() }

func (s *Store) forget(id string, c *chain) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chains[id] == c {
		delete(s.chains, id)
	}
}

func (s *Store) auditStream(ctx context.Context) (jetstream.Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stream == nil {
		st, err := s.js.Stream(ctx, StreamName)
		if err != nil {
			return nil, fmt.Errorf("audit stream: %w", err)
		}
		s.stream = st
	}
	return s.stream, nil
}

func (s *Store) chain(id string) *chain {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chains[id]
	if !ok {
		c = &chain{keys: map[string]Record{}}
		s.chains[id] = c
	}
	return c
}

// catchUp brings c to the subject's real tip: one direct get when nothing
// changed, a filtered read of the new messages otherwise.
func (s *Store) catchUp(ctx context.Context, c *chain, subject string) error {
	st, err := s.auditStream(ctx)
	if err != nil {
		return err
	}
	tip, err := st.GetLastMsgForSubject(ctx, subject)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		if c.streamSeq != 0 {
			return fmt.Errorf("audit: %s: the chain's records are gone from the stream", subject)
		}
		return nil
	case err != nil:
		return fmt.Errorf("audit: tip of %s: %w", subject, err)
	case tip.Sequence == c.streamSeq:
		return nil
	}
	msgs, err := readFrom(ctx, st, subject, c.streamSeq+1, readOptions{})
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Err != nil {
			// Not a record: only tampering puts one here. Keep chaining to
			// the last real record; Verify names the intruder.
			c.streamSeq = m.StreamSeq
			continue
		}
		c.add(m.StreamSeq, m.Record)
	}
	return nil
}

func (c *chain) add(streamSeq uint64, r Record) {
	c.streamSeq = streamSeq
	rr := r
	c.last = &rr
	if _, ok := c.keys[factID(r)]; !ok {
		c.keys[factID(r)] = r
	}
}

// isWrongLastSeq reports a failed Nats-Expected-Last-Subject-Sequence check
// (10071, or 10164 on replicated streams).
func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}
