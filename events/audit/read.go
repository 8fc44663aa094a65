package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
// the call. It asks for the next message on the subject, one at a time
// (direct gets): no consumer is created, so no server-side state is left
// behind and the server's consumer limit (1,000 per stream by default,
// which a mass breach closing a thousand incidents at once used to hit
// with one ephemeral consumer per read) never applies.
func readFrom(ctx context.Context, st jetstream.Stream, filter string, start uint64) ([]stored, error) {
	var last uint64
	if m, err := st.GetLastMsgForSubject(ctx, filter); err == nil {
		last = m.Sequence
	} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("audit: last message on %s: %w", filter, err)
	}
	if last == 0 || last < start {
		return nil, nil
	}
	var out []stored
	for seq := max(start, 1); seq <= last; {
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
func Load(ctx context.Context, js jetstream.JetStream, incidentID string) ([]Record, error) {
	st, err := js.Stream(ctx, StreamName)
	if err != nil {
		return nil, fmt.Errorf("audit stream: %w", err)
	}
	msgs, err := readFrom(ctx, st, Subject(incidentID), 1)
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
func ListIncidents(ctx context.Context, js jetstream.JetStream) ([]IncidentView, error) {
	st, err := js.Stream(ctx, StreamName)
	if err != nil {
		return nil, fmt.Errorf("audit stream: %w", err)
	}
	msgs, err := readFrom(ctx, st, SubjectPrefix+"*", 1)
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
