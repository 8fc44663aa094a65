package sms

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DefaultAckTimeout is how long an escalating page waits for an answer
// before texting the next person, when neither roster nor step says.
const DefaultAckTimeout = 5 * time.Minute

// ToOnCall addresses the escalation order itself.
const ToOnCall = "oncall"

// Person is one member of the on-call roster.
type Person struct {
	// Name is the identity recorded when this person approves (it must be
	// listed in the incident's approvers for the gate's group).
	Name  string `json:"name" yaml:"name"`
	Phone string `json:"phone" yaml:"phone"` // E.164, e.g. +4915112345678
	Role  string `json:"role,omitempty" yaml:"role,omitempty"`
}

// Roster is the on-call configuration.
type Roster struct {
	People []Person `json:"people" yaml:"people"`
	// Escalation lists names in the order they are paged for "oncall";
	// empty means the order of People.
	Escalation []string `json:"escalation,omitempty" yaml:"escalation,omitempty"`
	// AckTimeout is how long to wait for ACK/APPROVE/DENY before paging
	// the next person (default 5m). A step's ack_timeout overrides it.
	AckTimeout Duration `json:"ack_timeout,omitempty" yaml:"ack_timeout,omitempty"`
	// QuietHours hold back low and medium severity texts. They never apply
	// to high or critical (every breach): see Suppressed.
	QuietHours *QuietHours `json:"quiet_hours,omitempty" yaml:"quiet_hours,omitempty"`
	// Template overrides DefaultTemplate (Go text/template over MessageData).
	Template string `json:"template,omitempty" yaml:"template,omitempty"`
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ValidPhone reports whether s is an E.164 number.
func ValidPhone(s string) bool { return e164.MatchString(s) }

// Validate checks the roster; a bad roster must fail at start, not when
// the first breach pages nobody.
func (r *Roster) Validate() error {
	if r == nil || len(r.People) == 0 {
		return errors.New("roster: no people")
	}
	names, phones := map[string]bool{}, map[string]bool{}
	for i, p := range r.People {
		if strings.TrimSpace(p.Name) == "" {
			return fmt.Errorf("roster: person %d has no name", i+1)
		}
		if names[p.Name] {
			return fmt.Errorf("roster: name %q listed twice", p.Name)
		}
		if !ValidPhone(p.Phone) {
			return fmt.Errorf("roster: %s: phone %q is not E.164 (+ and 7–15 digits)", p.Name, p.Phone)
		}
		if phones[p.Phone] {
			return fmt.Errorf("roster: %s: phone listed twice", p.Name)
		}
		if p.Role == ToOnCall {
			return fmt.Errorf("roster: %s: role %q is reserved for the escalation order", p.Name, ToOnCall)
		}
		names[p.Name], phones[p.Phone] = true, true
	}
	seen := map[string]bool{}
	for _, n := range r.Escalation {
		if !names[n] {
			return fmt.Errorf("roster: escalation names %q, who is not in people", n)
		}
		if seen[n] {
			return fmt.Errorf("roster: escalation lists %q twice", n)
		}
		seen[n] = true
	}
	if r.AckTimeout < 0 {
		return errors.New("roster: ack_timeout is negative")
	}
	if r.QuietHours != nil {
		if err := r.QuietHours.Validate(); err != nil {
			return fmt.Errorf("roster: %w", err)
		}
	}
	if _, err := ParseTemplate(r.Template); err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	return nil
}

// Ack returns the roster's ack timeout or the default.
func (r *Roster) Ack() time.Duration {
	if r.AckTimeout > 0 {
		return r.AckTimeout.D()
	}
	return DefaultAckTimeout
}

// order returns everyone, escalation order first.
func (r *Roster) order() []Person {
	out := make([]Person, 0, len(r.People))
	for _, n := range r.Escalation {
		if p, ok := r.byName(n); ok {
			out = append(out, p)
		}
	}
	for _, p := range r.People {
		if !slices.Contains(r.Escalation, p.Name) {
			out = append(out, p)
		}
	}
	return out
}

// Chain is who to page for to, in escalation order: "oncall" is the
// escalation order (everyone when it is empty, in roster order); a role is
// the people holding it, those in the escalation order first.
func (r *Roster) Chain(to string) ([]Person, error) {
	if to == "" || to == ToOnCall {
		if len(r.Escalation) == 0 {
			return slices.Clone(r.People), nil
		}
		out := make([]Person, 0, len(r.Escalation))
		for _, n := range r.Escalation {
			p, _ := r.byName(n)
			out = append(out, p)
		}
		return out, nil
	}
	var out []Person
	for _, p := range r.order() {
		if p.Role == to {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("roster: nobody has role %q (roles: %s)", to, strings.Join(r.roles(), ", "))
	}
	return out, nil
}

func (r *Roster) roles() []string {
	out := []string{ToOnCall}
	for _, p := range r.People {
		if p.Role != "" && !slices.Contains(out, p.Role) {
			out = append(out, p.Role)
		}
	}
	return out
}

func (r *Roster) byName(n string) (Person, bool) {
	for _, p := range r.People {
		if p.Name == n {
			return p, true
		}
	}
	return Person{}, false
}

// ByPhone finds the person with this number (Twilio sends E.164 From).
func (r *Roster) ByPhone(phone string) (Person, bool) {
	for _, p := range r.People {
		if p.Phone == phone {
			return p, true
		}
	}
	return Person{}, false
}

// MaskPhone keeps enough of a number to tell people apart in outputs and
// audit ("+491…5678") and hides the rest.
func MaskPhone(p string) string { return maskID(p) }

// Duration is a time.Duration written as "5m" in YAML and JSON.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes "5m0s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("duration %q: use e.g. 90s, 5m", b)
	}
	*d = Duration(v)
	return nil
}
