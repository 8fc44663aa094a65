package breach

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/keyresponse/runbook/events/schema"
)

var (
	schemaOnce sync.Once
	schemaVal  *jsonschema.Schema
	schemaErr  error
)

// Schema returns the compiled breach event schema (with format assertions
// on, so "time" must really be RFC 3339).
func Schema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.BreachEvent))
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource(schema.BreachEventURL, doc); err != nil {
			schemaErr = err
			return
		}
		schemaVal, schemaErr = c.Compile(schema.BreachEventURL)
	})
	return schemaVal, schemaErr
}

// Decode parses and validates one breach event received on a NATS subject.
// Checks run cheapest first: size, JSON syntax (strict: no duplicate keys),
// secret-looking field names, the JSON Schema, then the subject rules:
// subject == data.bot, or for an account-wide kind (account_leaked)
// subject == data.exchange with data.bot empty, and the NATS subject is
// breach.<subject>.<kind>. Every refusal is an *Error with a Reason. Decode
// does not check the signature, time window or replay; Verifier does.
//
// The body is parsed once; the schema validates that parse (a hand-written
// sufficient condition, schemaFastOK, spares the generic validator for the
// plainly valid event) and the typed Event, its extensions and the canonical
// bytes the signature covers are all built from it (see fromObject).
//
// An empty natsSubject skips the NATS subject check (offline validation).
func Decode(natsSubject string, body []byte) (Event, error) {
	if len(body) > MaxEventBytes {
		return Event{}, refuse(ReasonOversized, "%d bytes, limit %d", len(body), MaxEventBytes)
	}
	v, err := parseStrict(body)
	if err != nil {
		return Event{}, refuse(ReasonMalformedJSON, "%v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Event{}, refuse(ReasonMalformedJSON, "event is not a JSON object")
	}
	if path := secretField(obj, ""); path != "" {
		return Event{}, refuse(ReasonSecretField, "field %s looks like a secret; events carry key ids only", path)
	}
	sch, err := Schema()
	if err != nil {
		return Event{}, err // a broken embedded schema is a bug, not bad input
	}
	// schemaFastOK recognises the plainly valid event without the generic
	// validator; anything else is decided (and worded) by the schema.
	if !schemaFastOK(obj) {
		if err := sch.Validate(obj); err != nil {
			return Event{}, refuse(ReasonSchema, "%s", schemaMessage(err))
		}
	}
	// The canonical bytes need the number literals as sent, so they are
	// written before fromObject turns numbers into float64.
	canonical := canonicalOf(obj)
	ev, err := fromObject(obj, body)
	if err != nil {
		// The schema passed, so only Go-specific limits (a leap second in
		// time, a number beyond float64 in evidence) get here.
		return Event{}, refuse(ReasonSchema, "%v", err)
	}
	if err := checkSubjects(ev, natsSubject); err != nil {
		return Event{}, err
	}
	ev.canonical = canonical
	return ev, nil
}

// checkSubjects enforces what the schema cannot express: which data field
// the CloudEvents subject names, and that the NATS subject matches.
func checkSubjects(ev Event, natsSubject string) error {
	if AccountWide(ev.Kind()) {
		if ev.Subject != ev.Data.Exchange {
			return refuse(ReasonSubjectMismatch, "subject %q is not data.exchange %q (kind %s names the exchange account)", ev.Subject, ev.Data.Exchange, ev.Kind())
		}
		// The schema already insists on data.bot == "" for this kind.
	} else if ev.Subject != ev.Data.Bot {
		return refuse(ReasonSubjectMismatch, "subject %q is not data.bot %q", ev.Subject, ev.Data.Bot)
	}
	if natsSubject != "" && natsSubject != ev.NATSSubject() {
		return refuse(ReasonSubjectMismatch, "published on %q, event says %q", truncate(natsSubject, 200), ev.NATSSubject())
	}
	return nil
}

var knownAttribute = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "subject": true, "time": true,
	"datacontenttype": true, "dataschema": true, "sigkeyid": true, "signature": true, "data": true,
}

// plainValue turns json.Number into float64 like encoding/json would.
func plainValue(v any) any {
	if n, ok := v.(json.Number); ok {
		f, err := n.Float64()
		if err != nil {
			return string(n)
		}
		return f
	}
	return v
}

var printer = message.NewPrinter(language.English)

// schemaMessage flattens a validation error into one line naming the
// instance locations; values that jsonschema quotes are only ever from
// fields that passed the secret-name check.
func schemaMessage(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var parts []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			parts = append(parts, "/"+strings.Join(e.InstanceLocation, "/")+": "+e.ErrorKind.LocalizedString(printer))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return strings.Join(parts, "; ")
}

// secretWords are matched against field names lowercased with everything
// but letters and digits removed ("Private-Key" -> "privatekey").
var secretWords = []string{"secret", "password", "passwd", "passphrase", "privatekey", "mnemonic", "seedphrase"}

var secretWordBytes = func() [][]byte {
	b := make([][]byte, len(secretWords))
	for i, w := range secretWords {
		b[i] = []byte(w)
	}
	return b
}()

// secretField returns the path of the first field whose name looks like it
// holds a secret, or "". It looks at the whole event, not only data: an
// extension attribute is just as visible in the stream. The path is only
// built when a field is found (this runs on every event).
func secretField(v any, path string) string {
	if p, ok := secretPath(v); ok {
		return path + p
	}
	return ""
}

func secretPath(v any) (string, bool) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if looksSecret(k) {
				return "/" + truncate(k, 64), true
			}
			if p, ok := secretPath(x); ok {
				return "/" + truncate(k, 64) + p, true
			}
		}
	case []any:
		for _, x := range t {
			if p, ok := secretPath(x); ok {
				return "/[]" + p, true
			}
		}
	}
	return "", false
}

// looksSecret lowercases name, keeps letters and digits and looks for a
// secret word. ASCII names (nearly all) are folded in a stack buffer;
// others go through strings.ToLower, whose Unicode folding can produce
// ASCII letters (the Kelvin sign becomes k).
func looksSecret(name string) bool {
	var buf [64]byte
	n := buf[:0]
	ascii := len(name) <= len(buf)
	for i := 0; ascii && i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 0x80:
			ascii = false
		case c >= 'A' && c <= 'Z':
			n = append(n, c+('a'-'A'))
		case (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'):
			n = append(n, c)
		}
	}
	if !ascii {
		n = n[:0]
		for _, r := range strings.ToLower(name) {
			if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
				n = append(n, byte(r))
			}
		}
	}
	for _, w := range secretWordBytes {
		if bytes.Contains(n, w) {
			return true
		}
	}
	return false
}

// LooksSecret reports whether a field name would be refused as secret-like
// (the Alertmanager bridge drops such labels instead of failing).
func LooksSecret(name string) bool { return looksSecret(name) }
