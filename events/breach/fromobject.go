package breach

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// fromObject builds the typed Event from a strictly parsed, schema-valid
// event object, giving exactly what json.Unmarshal(body, &ev) gave before
// (without walking the bytes again): strings as parsed, evidence numbers as
// float64, unknown top-level attributes in Extensions. It takes ownership of
// obj: evidence maps are converted in place and end up in the Event.
//
// When a value does not fit the Go type (a leap second, an evidence number
// beyond float64), the error is the one json.Unmarshal reports, so the
// refusal detail stays what it always was.
func fromObject(obj map[string]any, body []byte) (Event, error) {
	str := func(m map[string]any, k string) string {
		s, _ := m[k].(string)
		return s
	}
	ev := Event{
		SpecVersion:     str(obj, "specversion"),
		ID:              str(obj, "id"),
		Source:          str(obj, "source"),
		Type:            str(obj, "type"),
		Subject:         str(obj, "subject"),
		DataContentType: str(obj, "datacontenttype"),
		DataSchema:      str(obj, "dataschema"),
		SigKeyID:        str(obj, "sigkeyid"),
		Signature:       str(obj, "signature"),
	}
	if bytes.IndexByte(body, '\\') < 0 || !timeValueEscaped(body) {
		// No escape in the time value, so the parsed string is the raw text.
		if err := ev.Time.UnmarshalText([]byte(str(obj, "time"))); err != nil {
			return Event{}, unmarshalError(body, err)
		}
	} else {
		// time.Time.UnmarshalJSON parses the raw bytes between the quotes
		// without JSON unescaping ("\u0030" is not a digit to it); let it
		// see them as it did before.
		var t struct {
			Time time.Time `json:"time"`
		}
		if err := json.Unmarshal(body, &t); err != nil {
			return Event{}, unmarshalError(body, err)
		}
		ev.Time = t.Time
	}
	data, _ := obj["data"].(map[string]any)
	ev.Data = Data{
		Bot:      str(data, "bot"),
		Exchange: str(data, "exchange"),
		KeyID:    str(data, "key_id"),
		Severity: Severity(str(data, "severity")),
		Source:   str(data, "source"),
	}
	if e, ok := data["evidence"].(map[string]any); ok {
		if err := floatNumbers(e); err != nil {
			return Event{}, unmarshalError(body, err)
		}
		ev.Data.Evidence = e
	}
	for k, x := range obj {
		if !knownAttribute[k] {
			if ev.Extensions == nil {
				ev.Extensions = map[string]any{}
			}
			ev.Extensions[k] = plainValue(x)
		}
	}
	return ev, nil
}

// floatNumbers replaces every json.Number in a parsed tree by its float64,
// in place, as encoding/json does when it decodes into map[string]any.
func floatNumbers(v any) error {
	conv := func(x any) (any, error) {
		if n, ok := x.(json.Number); ok {
			return n.Float64()
		}
		return x, floatNumbers(x)
	}
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			y, err := conv(x)
			if err != nil {
				return err
			}
			t[k] = y
		}
	case []any:
		for i, x := range t {
			y, err := conv(x)
			if err != nil {
				return err
			}
			t[i] = y
		}
	}
	return nil
}

// unmarshalError returns the error json.Unmarshal(body, &Event{}) reports,
// which is the refusal detail Decode has always given for a body the schema
// accepts but Go cannot represent. fallback is used if it reports none.
func unmarshalError(body []byte, fallback error) error {
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return err
	}
	if fallback == nil {
		fallback = errors.New("event does not fit the Go types")
	}
	return fallback
}

// timeValueEscaped reports whether the string value of the top-level member
// "time" of a valid JSON object has an escape in it. It scans the bytes
// once, tracking only the nesting and the top-level keys (a key may itself
// be escaped: "\u0074ime").
func timeValueEscaped(b []byte) bool {
	depth := 0
	expectKey, isTime := false, false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			depth++
			expectKey = depth == 1
		case '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			expectKey = depth == 1
		case '"':
			start, esc := i, false
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					esc = true
					i++
				}
			}
			if depth != 1 {
				continue
			}
			if expectKey {
				key := string(b[start+1 : i])
				if esc {
					key = "" // an escaped key is rare: decode it
					_ = json.Unmarshal(b[start:i+1], &key)
				}
				isTime, expectKey = key == "time", false
			} else if isTime {
				return esc
			}
		}
	}
	return false
}
