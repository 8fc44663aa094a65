package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// stored is one message of the AUDIT stream with its decoded record.
type stored struct {
	StreamSeq uint64
	Subject   string
	Record    Record
	// Err is set when the message is not a record (it stays in the result
	// so Verify can name it).
	Err error
}

// readFrom reads every message on filter from stream sequence start on,
// up to and including the stream's last message on filter at the time of
// the call. A catch-up read (start > 1: a writer extending its chain)
// asks for the next message on the subject one at a time (direct gets: a
// few messages, no server-side state). A whole trail goes through an
// ordered consumer, which streams it, but each one is a consumer on
// AUDIT, and nats-server allows 1,000 per stream by default: a mass breach
// closing 1,000 incidents at once read past that. So whole-trail reads
// take one of readSlots, and delete their consumer when done instead of
// leaving it to expire.
func readFrom(ctx context.Context, st jetstream.Stream, filter string, start uint64, o readOptions) ([]stored, error) {
	var last uint64
	if m, err := st.GetLastMsgForSubject(ctx, filter); err == nil {
		last = m.Sequence
	} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("audit: last message on %s: %w", filter, err)
	}
	if last == 0 || last < start {
		return nil, nil
	}
	if start > 1 || o.direct {
		return readDirect(ctx, st, filter, start, last)
	}
	return readOrdered(ctx, st, filter, last)
}

// ReadOption tunes how Load and ListIncidents read.
type ReadOption func(*readOptions)

type readOptions struct{ direct bool }

// DirectReads reads whole trails by direct gets only, never through a
// consumer: for readers that may not create consumers on AUDIT (the
// operator role of events/natsauth). A consumer's deliver subject is not
// checked against its creator's permissions, so a "read-only" user allowed
// to create consumers could have the server push audit records into
// breach.> or a KV bucket.
func DirectReads() ReadOption { return func(o *readOptions) { o.direct = true } }

func readOpts(opts []ReadOption) readOptions {
	var o readOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// readSlots bounds the whole-trail reads (consumers) in flight in this
// process.
var readSlots = make(chan struct{}, 32)

// fetchWait bounds how long one Next waits; the reader knows the last
// sequence to expect, so it only waits this long if the server is slow.
const fetchWait = 5 * time.Second

func readOrdered(ctx context.Context, st jetstream.Stream, filter string, last uint64) ([]stored, error) {
	select {
	case readSlots <- struct{}{}:
		defer func() { <-readSlots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, InactiveThreshold: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("audit: read %s: %w", filter, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("audit: read %s: %w", filter, err)
	}
	defer func() {
		it.Stop()
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = st.DeleteConsumer(dctx, info.Name) // else it expires after InactiveThreshold
			cancel()
		}
	}()
	var out []stored
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := it.Next(jetstream.NextMaxWait(fetchWait))
		if err != nil {
			return nil, fmt.Errorf("audit: read %s (have %d, want up to seq %d): %w", filter, len(out), last, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return nil, fmt.Errorf("audit: read %s: %w", filter, err)
		}
		s := stored{StreamSeq: meta.Sequence.Stream, Subject: m.Subject()}
		if err := json.Unmarshal(m.Data(), &s.Record); err != nil {
			s.Err = err
		}
		out = append(out, s)
		if meta.Sequence.Stream >= last {
			return out, nil
		}
	}
}

func readDirect(ctx context.Context, st jetstream.Stream, filter string, start, last uint64) ([]stored, error) {
	var out []stored
	for seq := start; seq <= last; {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break // the rest was deleted since the tip was read
		}
		if err != nil {
			return nil, fmt.Errorf("audit: read %s (have %d, want up to seq %d): %w", filter, len(out), last, err)
		}
		if m.Sequence > last {
			break
		}
		s := stored{StreamSeq: m.Sequence, Subject: m.Subject}
		if err := json.Unmarshal(m.Data, &s.Record); err != nil {
			s.Err = err
		}
		out = append(out, s)
		seq = m.Sequence + 1
	}
	return out, nil
}

// Load returns every record of one incident in stream order. A message on
// the incident's subject that is not a record is returned as a *VerifyError
// naming its position, since only tampering puts one there.
func Load(ctx context.Context, js jetstream.JetStream, incidentID string, opts ...ReadOption) ([]Record, error) {
	st, err := js.Stream(ctx, StreamName)
	if err != nil {
		return nil, fmt.Errorf("audit stream: %w", err)
	}
	msgs, err := readFrom(ctx, st, Subject(incidentID), 1, readOpts(opts))
	if err != nil {
		return nil, err
	}
	return records(incidentID, msgs)
}

func records(incidentID string, msgs []stored) ([]Record, error) {
	out := make([]Record, 0, len(msgs))
	for i, m := range msgs {
		if m.Err != nil {
			return out, &VerifyError{IncidentID: incidentID, Index: i, Seq: uint64(i + 1), Problem: Altered,
				Reason: fmt.Sprintf("stream message %d is not an audit record: %v", m.StreamSeq, m.Err)}
		}
		out = append(out, m.Record)
	}
	return out, nil
}

// ListIncidents rebuilds the view of every incident occurrence from the
// whole stream (for `runbook list` and `status`), newest first. It reads the stream once;
// the audit stream holds facts, not bulk data, so this stays small.
func ListIncidents(ctx context.Context, js jetstream.JetStream, opts ...ReadOption) ([]IncidentView, error) {
	st, err := js.Stream(ctx, StreamName)
	if err != nil {
		return nil, fmt.Errorf("audit stream: %w", err)
	}
	msgs, err := readFrom(ctx, st, SubjectPrefix+"*", 1, readOpts(opts))
	if err != nil {
		return nil, err
	}
	bySubject := map[string][]Record{}
	var order []string
	for _, m := range msgs {
		if m.Err != nil {
			continue // Verify reports it; the listing shows what can be read
		}
		if _, ok := bySubject[m.Subject]; !ok {
			order = append(order, m.Subject)
		}
		bySubject[m.Subject] = append(bySubject[m.Subject], m.Record)
	}
	var views []IncidentView
	for _, subj := range order {
		for _, run := range Runs(bySubject[subj]) {
			views = append(views, Project(run))
		}
	}
	sortViews(views)
	return views, nil
}
