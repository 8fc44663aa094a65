package breach

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultWindow is how far an event's time may be from its arrival.
const DefaultWindow = 5 * time.Minute

// ReplayGuard remembers event ids. Claim records key for the message that
// msg identifies (Delivery.Message: its stream and sequence) and reports
// fresh=false when the key was already claimed by a *different* message;
// the same message claiming again (a redelivery after a failed start)
// stays fresh. An empty msg is never fresh twice. An error means "cannot
// tell now" and must lead to a retry, never to acceptance.
type ReplayGuard interface {
	Claim(ctx context.Context, key, msg string) (fresh bool, err error)
}

// Delivery is what the transport knows about one received message.
type Delivery struct {
	// Subject is the NATS subject it arrived on.
	Subject string
	// ArrivedAt is when the stream stored it (JetStream metadata timestamp).
	// The window is measured against it, not against the time of processing,
	// so a backlog built up while the consumer or Temporal was down is still
	// accepted, and an old event published again now is still refused.
	ArrivedAt time.Time
	// Stream and StreamSeq identify the message for the replay guard.
	// Sequences are per stream: with several lane streams, the same event
	// at the same sequence in two streams is two messages, and one of them
	// a replay.
	Stream    string
	StreamSeq uint64
	// HeaderSigned is set when Precheck verified the message's
	// Runbook-Signature header over its exact bytes: the body signature is
	// then not required (any signature or sigkeyid in the body is data the
	// header covered).
	HeaderSigned bool
}

// Message is how the replay guard names the delivered message: the stream
// sequence alone for the shared BREACH stream (the form claims had before
// lanes, so a claim made before an upgrade still recognises its own
// redelivery), stream:sequence for any other; "" without a sequence.
func (d Delivery) Message() string {
	if d.StreamSeq == 0 {
		return ""
	}
	seq := strconv.FormatUint(d.StreamSeq, 10)
	// "BREACH" is ingest.StreamBreach, which this package cannot import
	// (ingest imports breach).
	if d.Stream == "" || d.Stream == "BREACH" {
		return seq
	}
	return d.Stream + ":" + seq
}

// Verifier checks authenticity and freshness of decoded events.
type Verifier struct {
	Keys Keyring
	// Window: events with time before ArrivedAt-Window are expired, after
	// ArrivedAt+Future (Future defaults to Window) are from the future.
	Window time.Duration
	Future time.Duration
	// AllowUnsigned lists subject prefixes (whole tokens, e.g.
	// "breach.drill-bot") or NATS patterns ("breach.*.drill") on which
	// unsigned events are accepted. Empty: every event must be signed.
	AllowUnsigned []string
	// Replay, if set, refuses event ids already seen. Without it only the
	// time window limits replays.
	Replay ReplayGuard
	// Now is used when a Delivery has no ArrivedAt. Defaults to time.Now.
	Now func() time.Time
}

// Verify runs, in order: signature (or the unsigned allowance), time window,
// replay. The replay guard is consulted last so that forged or stale events
// never occupy an id. Permanent refusals are *Error; other errors are
// transient.
func (v *Verifier) Verify(ctx context.Context, ev Event, d Delivery) error {
	if d.HeaderSigned {
		// Authentic: Precheck verified the header over these bytes.
	} else if ev.Signature == "" && ev.SigKeyID == "" {
		if !v.unsignedAllowed(d.Subject) {
			return refuse(ReasonUnsigned, "no signature and subject %q is not allowed unsigned", truncate(d.Subject, 200))
		}
	} else if err := checkSignature(ev, v.Keys); err != nil {
		return err
	}
	arrived := d.ArrivedAt
	if arrived.IsZero() {
		if v.Now != nil {
			arrived = v.Now()
		} else {
			arrived = time.Now()
		}
	}
	window := v.Window
	if window <= 0 {
		window = DefaultWindow
	}
	future := v.Future
	if future <= 0 {
		future = window
	}
	if age := arrived.Sub(ev.Time); age > window {
		return refuse(ReasonExpired, "event time %s is %s before arrival, window %s", ev.Time.Format(time.RFC3339), age.Round(time.Second), window)
	}
	if ahead := ev.Time.Sub(arrived); ahead > future {
		return refuse(ReasonFuture, "event time %s is %s after arrival, window %s", ev.Time.Format(time.RFC3339), ahead.Round(time.Second), future)
	}
	if v.Replay != nil {
		fresh, err := v.Replay.Claim(ctx, ReplayKey(ev), d.Message())
		if err != nil {
			return err
		}
		if !fresh {
			return refuse(ReasonReplayed, "event id %q from %q was seen before", truncate(ev.ID, 100), truncate(ev.Source, 100))
		}
	}
	return nil
}

func (v *Verifier) unsignedAllowed(subject string) bool {
	for _, p := range v.AllowUnsigned {
		p = strings.TrimSuffix(p, ".")
		if p == "" {
			continue
		}
		if MatchSubject(p, subject) || MatchSubject(p+".>", subject) {
			return true
		}
	}
	return false
}

// ReplayKey identifies an event for replay protection. CloudEvents ids are
// unique per source, so both go in; hashing makes any id a valid KV key.
func ReplayKey(ev Event) string {
	h := sha256.New()
	h.Write([]byte(ev.Source))
	h.Write([]byte{0})
	h.Write([]byte(ev.ID))
	return hex.EncodeToString(h.Sum(nil))
}

// MemoryReplayGuard is an in-process ReplayGuard for tests and single-shot
// tools. It forgets everything on restart and never expires entries; the
// consumer uses the JetStream KV guard in events/ingest instead.
type MemoryReplayGuard struct {
	mu   sync.Mutex
	seen map[string]string
}

// Claim implements ReplayGuard.
func (g *MemoryReplayGuard) Claim(_ context.Context, key, msg string) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil {
		g.seen = map[string]string{}
	}
	if s, ok := g.seen[key]; ok {
		return s == msg && msg != "", nil
	}
	g.seen[key] = msg
	return true, nil
}
