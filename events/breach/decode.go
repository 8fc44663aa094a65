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
// secret-looking field names, the JSON Schema, then that the NATS subject is
// breach.<subject>.<kind> with subject == data.bot. Every refusal is an
// *Error with a Reason. Decode does not check the signature, time window or
// replay; Verifier does.
//
// An empty natsSubject skips the subject check (offline validation).
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
	if err := sch.Validate(obj); err != nil {
		return Event{}, refuse(ReasonSchema, "%s", schemaMessage(err))
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		// The schema passed, so only Go-specific limits (e.g. a leap second
		// in time) get here.
		return Event{}, refuse(ReasonSchema, "%v", err)
	}
	if ev.Subject != ev.Data.Bot {
		return Event{}, refuse(ReasonSubjectMismatch, "subject %q is not data.bot %q", ev.Subject, ev.Data.Bot)
	}
	if natsSubject != "" && natsSubject != ev.NATSSubject() {
		return Event{}, refuse(ReasonSubjectMismatch, "published on %q, event says %q", truncate(natsSubject, 200), ev.NATSSubject())
	}
	for k, x := range obj {
		if !knownAttribute[k] {
			if ev.Extensions == nil {
				ev.Extensions = map[string]any{}
			}
			ev.Extensions[k] = plainValue(x)
		}
	}
	ev.canonical = canonicalOf(obj)
	return ev, nil
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

// secretField returns the path of the first field whose name looks like it
// holds a secret, or "". It looks at the whole event, not only data: an
// extension attribute is just as visible in the stream.
func secretField(v any, path string) string {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if looksSecret(k) {
				return path + "/" + truncate(k, 64)
			}
			if p := secretField(x, path+"/"+truncate(k, 64)); p != "" {
				return p
			}
		}
	case []any:
		for _, x := range t {
			if p := secretField(x, path+"/[]"); p != "" {
				return p
			}
		}
	}
	return ""
}

func looksSecret(name string) bool {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	n := b.String()
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// LooksSecret reports whether a field name would be refused as secret-like
// (the Alertmanager bridge drops such labels instead of failing).
func LooksSecret(name string) bool { return looksSecret(name) }
