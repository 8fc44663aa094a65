package breach

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Fixed CloudEvents attribute values of a breach event.
const (
	SpecVersion     = "1.0"
	TypePrefix      = "io.keyresponse.breach."
	DataContentType = "application/json"
	// MaxEventBytes caps the encoded event. Evidence is a summary, not a log
	// dump, and the cap bounds what one hostile publisher can make us parse.
	MaxEventBytes = 64 << 10
)

// Severity of a breach.
type Severity string

const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Event is one breach event: CloudEvents 1.0 context attributes, the two
// signature extension attributes and the typed data.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject"` // the bot
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	DataSchema      string    `json:"dataschema,omitempty"`
	// SigKeyID and Signature are CloudEvents extension attributes.
	SigKeyID  string `json:"sigkeyid,omitempty"`
	Signature string `json:"signature,omitempty"`
	// Extensions holds any other extension attribute of a received event.
	Extensions map[string]any `json:"-"`
	Data       Data           `json:"data"`

	// canonical is the signed form of the body this event was decoded
	// from; nil for an event built in code (computed on demand).
	canonical []byte
}

// Data is the payload. It never carries a secret.
type Data struct {
	Bot      string         `json:"bot"`
	Exchange string         `json:"exchange"`
	KeyID    string         `json:"key_id"`
	Severity Severity       `json:"severity"`
	Source   string         `json:"source"`
	Evidence map[string]any `json:"evidence"`
}

// Kind is the breach kind: the suffix of Type (key_leaked, unknown_ip, ...).
func (e Event) Kind() string { return strings.TrimPrefix(e.Type, TypePrefix) }

// NATSSubject is breach.<bot>.<kind>.
func (e Event) NATSSubject() string { return Subject(e.Subject, e.Kind()) }

// New builds an unsigned event with a fresh id and the given time. Callers
// fill Data.Evidence and sign it with Sign.
func New(source, kind string, data Data, now time.Time) Event {
	if data.Evidence == nil {
		data.Evidence = map[string]any{}
	}
	return Event{
		SpecVersion:     SpecVersion,
		ID:              uuid.NewString(),
		Source:          source,
		Type:            TypePrefix + kind,
		Subject:         data.Bot,
		Time:            now.UTC(),
		DataContentType: DataContentType,
		Data:            data,
	}
}

// MarshalJSON writes the structured-mode CloudEvent, extensions inline.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event // drops methods, so no recursion
	b, err := json.Marshal(plain(e))
	if err != nil || len(e.Extensions) == 0 {
		return b, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range e.Extensions {
		if _, taken := m[k]; taken {
			return nil, fmt.Errorf("extension %q collides with a context attribute", k)
		}
		m[k] = v
	}
	return json.Marshal(m)
}

// Map is the event as a generic map: the `event` scope of runbook
// conditions and templates, and workflows.IncidentInput.Event. Numbers are
// float64 so expressions can compare them.
func (e Event) Map() (map[string]any, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// canonicalBytes returns what the signature covers.
func (e Event) canonicalBytes() ([]byte, error) {
	if e.canonical != nil {
		return e.canonical, nil
	}
	e.Signature = ""
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return Canonical(b)
}
