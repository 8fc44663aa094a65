package ingest

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/keyresponse/runbook/events/breach"
)

// A flood on the breach stream is itself an incident: an attacker burying
// a breach under noise, or a monitor gone wrong while a breach is on. The
// consumer notices it per publisher lane and says so once: one FloodAlert
// per lane per FloodConfig.Cooldown, naming the publisher the server
// vouches for (the lane), the rates and the refusal reasons.

// FloodConfig tunes flood detection. Zero fields take the defaults.
type FloodConfig struct {
	// Window is what the rates are measured over (default 5s).
	Window time.Duration
	// EventsPerSecond: a lane receiving at least this many events a second
	// over Window is flooded (default 2000: a 1,000-bot mass breach in one
	// burst stays under it).
	EventsPerSecond float64
	// RejectedPerSecond: a lane whose refusals reach this many a second
	// over Window is flooded (default 200).
	RejectedPerSecond float64
	// Cooldown is the least time between two alerts for one lane (default
	// 10m).
	Cooldown time.Duration
	// OnFlood is called (on its own goroutine, never blocking the
	// consumer) with each alert: the engine pages on-call with it.
	OnFlood func(FloodAlert)
}

// FloodAlert describes a flooded lane.
type FloodAlert struct {
	Publisher string // "" shared lane
	Stream    string
	// Window is the time the counts cover: the detection window, or less
	// when the lane was quiet before the flood began.
	Window   time.Duration
	Events   int // received in Window
	Rejected int // refused in Window
	Reasons  map[breach.Reason]int
	At       time.Time
}

// EventsPerSecond and RejectedPerSecond are the alert's rates.
func (a FloodAlert) EventsPerSecond() float64   { return float64(a.Events) / a.Window.Seconds() }
func (a FloodAlert) RejectedPerSecond() float64 { return float64(a.Rejected) / a.Window.Seconds() }

// Text is the page: short enough for one SMS segment or two, no event
// content (a flood is attacker-controlled text).
func (a FloodAlert) Text() string {
	pub := a.Publisher
	if pub == "" {
		pub = "shared (unnamed publishers)"
	}
	var rs []string
	for r, n := range a.Reasons {
		rs = append(rs, fmt.Sprintf("%s %d", r, n))
	}
	sort.Strings(rs)
	reasons := ""
	if len(rs) > 0 {
		reasons = " (" + strings.Join(rs, ", ") + ")"
	}
	return fmt.Sprintf("breach stream flooded: %.0f events/s, %.0f rejected/s%s, publisher %s, stream %s, over the last %s",
		a.EventsPerSecond(), a.RejectedPerSecond(), reasons, pub, a.Stream, a.Window)
}

func (f FloodConfig) withDefaults() FloodConfig {
	if f.Window <= 0 {
		f.Window = 5 * time.Second
	}
	if f.EventsPerSecond <= 0 {
		f.EventsPerSecond = 2000
	}
	if f.RejectedPerSecond <= 0 {
		f.RejectedPerSecond = 200
	}
	if f.Cooldown <= 0 {
		f.Cooldown = 10 * time.Minute
	}
	return f
}

// floodMeter keeps per-lane counts in one-second buckets.
type floodMeter struct {
	cfg FloodConfig
	mu  sync.Mutex
	by  map[string]*laneMeter
}

type laneMeter struct {
	stream    string
	buckets   []floodBucket // ring, one per second of Window
	lastAlert time.Time
}

type floodBucket struct {
	second   int64
	events   int
	rejected int
	reasons  map[breach.Reason]int
}

func newFloodMeter(cfg FloodConfig) *floodMeter {
	return &floodMeter{cfg: cfg.withDefaults(), by: map[string]*laneMeter{}}
}

// observe counts one batch's items per lane and returns the alerts due.
func (m *floodMeter) observe(items []*item, now time.Time) []FloodAlert {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := int(m.cfg.Window / time.Second)
	n = max(n, 1)
	sec := now.Unix()
	touched := map[string]bool{}
	for _, it := range items {
		lm := m.by[it.publisher]
		if lm == nil {
			lm = &laneMeter{stream: it.meta.Stream, buckets: make([]floodBucket, n)}
			m.by[it.publisher] = lm
		}
		b := &lm.buckets[sec%int64(n)]
		if b.second != sec {
			*b = floodBucket{second: sec, reasons: map[breach.Reason]int{}}
		}
		b.events++
		if it.reject != nil {
			b.rejected++
			b.reasons[it.reject.reason]++
		}
		touched[it.publisher] = true
	}
	var out []FloodAlert
	for pub := range touched {
		lm := m.by[pub]
		a := FloodAlert{Publisher: pub, Stream: lm.stream, Reasons: map[breach.Reason]int{}, At: now}
		oldest := sec
		for _, b := range lm.buckets {
			if sec-b.second >= int64(n) || b.events == 0 {
				continue
			}
			oldest = min(oldest, b.second)
			a.Events += b.events
			a.Rejected += b.rejected
			for r, c := range b.reasons {
				a.Reasons[r] += c
			}
		}
		// Decided on the whole window (a flood is sustained: a 1,000-bot
		// mass breach in one burst is not one), reported over the seconds
		// the counts really span.
		w := m.cfg.Window.Seconds()
		if float64(a.Events) < m.cfg.EventsPerSecond*w && float64(a.Rejected) < m.cfg.RejectedPerSecond*w {
			continue
		}
		a.Window = time.Duration(sec-oldest+1) * time.Second
		if !lm.lastAlert.IsZero() && now.Sub(lm.lastAlert) < m.cfg.Cooldown {
			continue
		}
		lm.lastAlert = now
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Publisher < out[j].Publisher })
	return out
}

// noteFlood runs after each batch: counts, logs and hands out alerts.
func (c *Consumer) noteFlood(items []*item) {
	for _, a := range c.flood.observe(items, c.cfg.Now()) {
		c.log.Error("breach stream flooded", "publisher", a.Publisher, "stream", a.Stream,
			"events_per_second", int(a.EventsPerSecond()), "rejected_per_second", int(a.RejectedPerSecond()), "window", a.Window)
		c.stats.add(func(s *Stats) { s.Floods++ })
		if f := c.cfg.Flood.OnFlood; f != nil {
			go f(a)
		}
	}
}
