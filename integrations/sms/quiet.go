package sms

import (
	"fmt"
	"strings"
	"time"
)

// Severity of what a text is about.
type Severity string

const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Severities lists the accepted values, lowest first.
var Severities = []string{string(SeverityLow), string(SeverityMedium), string(SeverityHigh), string(SeverityCritical)}

// QuietHours is a daily window (possibly across midnight) in which low and
// medium severity texts are held back.
type QuietHours struct {
	Start string `json:"start" yaml:"start"` // "22:00"
	End   string `json:"end" yaml:"end"`     // "07:00"
	// Zone is an IANA time zone (default UTC).
	Zone string `json:"zone,omitempty" yaml:"zone,omitempty"`
}

// Validate parses the window.
func (q *QuietHours) Validate() error {
	_, _, _, err := q.parse()
	return err
}

func (q *QuietHours) parse() (start, end int, loc *time.Location, err error) {
	clock := func(s string) (int, error) {
		t, err := time.Parse("15:04", strings.TrimSpace(s))
		if err != nil {
			return 0, fmt.Errorf("quiet_hours: %q is not HH:MM", s)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	if start, err = clock(q.Start); err != nil {
		return
	}
	if end, err = clock(q.End); err != nil {
		return
	}
	loc = time.UTC
	if q.Zone != "" {
		if loc, err = time.LoadLocation(q.Zone); err != nil {
			return 0, 0, nil, fmt.Errorf("quiet_hours: zone %q: %w", q.Zone, err)
		}
	}
	return start, end, loc, nil
}

// Active reports whether t falls in the window.
func (q *QuietHours) Active(t time.Time) bool {
	start, end, loc, err := q.parse()
	if err != nil || start == end {
		return false
	}
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	if start < end {
		return m >= start && m < end
	}
	return m >= start || m < end // across midnight
}

// Suppressed reports whether a text of severity sev is held back at now.
// High and critical — every breach — are never held: an attacker with a
// leaked key does not wait for the morning, so neither does the page.
func (r *Roster) Suppressed(sev Severity, now time.Time) bool {
	if sev == SeverityHigh || sev == SeverityCritical || r.QuietHours == nil {
		return false
	}
	return r.QuietHours.Active(now)
}
