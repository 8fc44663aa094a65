package ingest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/jsutil"
)

// A lane is one publisher's own way into the engine: its own NATS account,
// whose import maps the publisher's breach.> onto lane.<name>.breach.> in
// the engine's account (events/natsauth renders it), its own stream with
// its own limits, and its own durable consumer. The publisher's recipe does
// not change (it publishes breach.<subject>.<kind> and gets a JetStream
// ack); what changes is that the server, not the event, says who sent it,
// and that a flooding publisher fills and waits in its own lane:
//
//   - storage: a lane stream that is full refuses that publisher's
//     publishes (DiscardNew), never anyone else's. On one shared BREACH, a
//     1,000,000-event flood filled the stream and the genuine breach behind
//     it was refused at publish.
//   - order: the consumer takes every batch round-robin from the lanes
//     with messages waiting (collector.go), so an event in a quiet lane is
//     in the next batch however deep another lane's backlog is. On one
//     shared stream it waited behind the whole flood: 6.55 s behind
//     100,000 unsigned events.
//   - rate: Lane.Rate caps how many events a second the consumer takes from
//     one lane, so a flood cannot take the CPU the containment of a genuine
//     breach needs.
//
// The shared lane (publisher "") is the BREACH stream on breach.>: events
// the engine publishes itself (the Alertmanager bridge, `runbook event
// send` as the shared publisher) and publishers not yet given a lane.
type Lane struct {
	// Publisher names the lane (ValidPublisherName); "" is the shared lane.
	Publisher string
	// MaxMsgs and MaxBytes bound the lane's stream (defaults
	// DefaultLaneMaxMsgs, DefaultLaneMaxBytes); ignored for the shared lane,
	// which StorageLimits bounds.
	MaxMsgs  int64
	MaxBytes int64
	// Rate is the most events per second the consumer takes from this lane
	// (0: DefaultLaneRate; negative: no cap). Burst is how many may come at
	// once above it (default one second's worth).
	Rate  float64
	Burst int
}

// Default lane limits. A lane holds a 100,000-event storm twice over; its
// rate cap is above what one consumer can ingest on a small machine, so it
// only bites when several lanes compete or a flood would starve the
// engine's own work.
const (
	DefaultLaneMaxMsgs  int64   = 200_000
	DefaultLaneMaxBytes int64   = 256 << 20
	DefaultLaneRate     float64 = 100_000
)

// LanePrefix starts every subject of a publisher's lane in the engine's
// account.
const LanePrefix = "lane."

var publisherNameRe = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// ValidPublisherName checks a lane name: it is a subject token, part of a
// stream name and of a NATS account name, so lowercase letters, digits and
// single dashes, at most 32.
func ValidPublisherName(name string) error {
	if len(name) == 0 || len(name) > 32 || !publisherNameRe.MatchString(name) {
		return fmt.Errorf("publisher name %q: want 1-32 lowercase letters, digits and single dashes (it is a NATS subject token and part of a stream name)", name)
	}
	return nil
}

// LaneSubjects is the subject filter of a publisher's lane in the engine's
// account ("" → the shared breach.>).
func LaneSubjects(publisher string) string {
	if publisher == "" {
		return SubjectsBreach
	}
	return LanePrefix + publisher + "." + SubjectsBreach
}

// LaneStream is the stream of a publisher's lane ("" → BREACH).
func LaneStream(publisher string) string {
	if publisher == "" {
		return StreamBreach
	}
	return StreamBreach + "_PUB_" + strings.ToUpper(strings.ReplaceAll(publisher, "-", "_"))
}

// SplitLane turns a subject as stored into the publisher's lane and the
// breach subject the publisher used: lane.<p>.breach.x.y → ("p",
// "breach.x.y"); breach.x.y → ("", "breach.x.y"). ok is false for a subject
// that is neither.
func SplitLane(subject string) (publisher, breachSubject string, ok bool) {
	if strings.HasPrefix(subject, "breach.") {
		return "", subject, true
	}
	rest, found := strings.CutPrefix(subject, LanePrefix)
	if !found {
		return "", "", false
	}
	p, s, found := strings.Cut(rest, ".")
	if !found || !strings.HasPrefix(s, "breach.") || ValidPublisherName(p) != nil {
		return "", "", false
	}
	return p, s, true
}

func (l Lane) limits() (msgs, bytes int64) {
	msgs, bytes = l.MaxMsgs, l.MaxBytes
	if msgs <= 0 {
		msgs = DefaultLaneMaxMsgs
	}
	if bytes <= 0 {
		bytes = DefaultLaneMaxBytes
	}
	return msgs, bytes
}

// LaneStreamConfig is a publisher lane's stream as the workers create it:
// BREACH's shape (file storage, DiscardNew for the reasons given at
// BreachDiscard, the same message cap and dedup window) with the lane's
// own limits.
func LaneStreamConfig(l Lane) jetstream.StreamConfig {
	cfg := BreachStreamConfig(StorageLimits{})
	msgs, bytes := l.limits()
	cfg.Name = LaneStream(l.Publisher)
	cfg.Description = fmt.Sprintf("Breach events of publisher %q (its account maps breach.> to %s)", l.Publisher, LaneSubjects(l.Publisher))
	cfg.Subjects = []string{LaneSubjects(l.Publisher)}
	cfg.MaxMsgs, cfg.MaxBytes = msgs, bytes
	return cfg
}

// EnsureLaneStreams creates or updates every publisher lane's stream.
func EnsureLaneStreams(ctx context.Context, js jetstream.JetStream, lanes []Lane) error {
	for _, l := range lanes {
		if l.Publisher == "" {
			continue
		}
		if err := ValidPublisherName(l.Publisher); err != nil {
			return err
		}
		if _, err := jsutil.EnsureStream(ctx, js, LaneStreamConfig(l)); err != nil {
			return fmt.Errorf("stream %s: %w", LaneStream(l.Publisher), err)
		}
	}
	return nil
}

// laneRate is the token bucket of one lane's Rate.
type laneRate struct {
	rate   float64 // tokens per second; <= 0 no cap
	burst  float64
	tokens float64
	last   time.Time
}

func newLaneRate(l Lane) *laneRate {
	r := l.Rate
	if r == 0 {
		r = DefaultLaneRate
	}
	b := float64(l.Burst)
	if b <= 0 {
		b = r
	}
	// At least one whole token, or a rate below 1/s could never send.
	b = max(b, 1)
	return &laneRate{rate: r, burst: b, tokens: b}
}

// take returns how many of want may go now (at least 0), spending them.
func (r *laneRate) take(want int, now time.Time) int {
	if r.rate <= 0 {
		return want
	}
	if !r.last.IsZero() {
		r.tokens = min(r.burst, r.tokens+now.Sub(r.last).Seconds()*r.rate)
	}
	r.last = now
	n := min(want, int(r.tokens))
	r.tokens -= float64(n)
	return n
}

// refund gives back n tokens taken but not used.
func (r *laneRate) refund(n int) {
	if r.rate > 0 && n > 0 {
		r.tokens = min(r.burst, r.tokens+float64(n))
	}
}

// wait is how long until one more token is there.
func (r *laneRate) wait() time.Duration {
	if r.rate <= 0 || r.tokens >= 1 {
		return 0
	}
	// Rounded up, at least 1 ns: a zero here would make the collector wait
	// for a message instead of the token.
	return max(time.Nanosecond, time.Duration((1-r.tokens)/r.rate*float64(time.Second))+1)
}
