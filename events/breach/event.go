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
	Subject         string    `json:"subject"` // the bot; the exchange account for account_leaked
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
	Bot      string         `json:"bot"` // "" for an account-wide kind (account_leaked)
	Exchange string         `json:"exchange"`
	KeyID    string         `json:"key_id"`
	Severity Severity       `json:"severity"`
	Source   string         `json:"source"`
	Evidence map[string]any `json:"evidence"`
}

// KindAccountLeaked is the account-wide kind: the exchange account itself
// (its master or management key) leaked, so every bot on it is affected.
// Its CloudEvents subject is the exchange account name, equal to
// data.exchange, and data.bot is "".
const KindAccountLeaked = "account_leaked"

// AccountWide reports whether kind concerns a whole exchange account rather
// than one bot: its subject is data.exchange and data.bot is empty.
func AccountWide(kind string) bool { return kind == KindAccountLeaked }

// subjectOf is the CloudEvents subject of an event of this kind: the bot,
// or for an account-wide kind the exchange account.
func subjectOf(kind string, data Data) string {
	if AccountWide(kind) {
		return data.Exchange
	}
	return data.Bot
}

// Kind is the breach kind: the suffix of Type (key_leaked, unknown_ip, ...).
func (e Event) Kind() string { return strings.TrimPrefix(e.Type, TypePrefix) }

// NATSSubject is breach.<subject>.<kind>: breach.<bot>.<kind>, or
// breach.<exchange>.account_leaked.
func (e Event) NATSSubject() string { return Subject(e.Subject, e.Kind()) }

// New builds an unsigned event with a fresh id and the given time. The
// subject is data.Bot, or data.Exchange for KindAccountLeaked (leave
// data.Bot empty then). Callers fill Data.Evidence and sign it with Sign.
func New(source, kind string, data Data, now time.Time) Event {
	if data.Evidence == nil {
		data.Evidence = map[string]any{}
	}
	return Event{
		SpecVersion:     SpecVersion,
		ID:              uuid.NewString(),
		Source:          source,
		Type:            TypePrefix + kind,
		Subject:         subjectOf(kind, data),
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
//
// The result is exactly what a JSON round trip of the event (MarshalJSON
// then json.Unmarshal into a map) gives, and it is a fresh map on every
// call: nested evidence maps and slices are copied, so the caller may
// change the result without touching the Event or other callers' maps, and
// a later change to the Event shows in the next Map. A decoded event holds
// only JSON values (string, float64, bool, nil, maps and slices of them), so
// the map is built directly from the fields; anything else (an int in
// evidence built in code, invalid UTF-8, a time RFC 3339 cannot hold) takes
// the round trip itself.
func (e Event) Map() (map[string]any, error) {
	if m, ok := e.plainMap(); ok {
		return m, nil
	}
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
