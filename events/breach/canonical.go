package breach

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
)

// Canonical returns the bytes an event signature covers: the event object
// with its "signature" member removed, encoded with
//   - object members sorted by key (byte order of the UTF-8 key), at every depth;
//   - no insignificant whitespace;
//   - strings escaped as RFC 8785 (JCS) does: \" \\ \b \f \n \r \t, other
//     control characters as \u00xx (lowercase hex), everything else as
//     literal UTF-8 (no \u escapes for non-ASCII, no HTML escaping);
//   - numbers exactly as written in the received body (the literal is not
//     reformatted, so signer and verifier need no shared float printer).
//
// A signer produces it the same way from the JSON it is about to send.
func Canonical(body []byte) ([]byte, error) {
	v, err := parseStrict(body)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("event is not a JSON object")
	}
	return canonicalOf(obj), nil
}

// canonicalOf encodes a parsed event object without its signature.
func canonicalOf(obj map[string]any) []byte {
	var b bytes.Buffer
	b.Grow(512)
	writeCanonicalObject(&b, obj, "signature")
	return b.Bytes()
}

func writeCanonical(b *bytes.Buffer, v any) {
	switch t := v.(type) {
	case map[string]any:
		writeCanonicalObject(b, t, "")
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case string:
		writeCanonicalString(b, t)
	case json.Number:
		b.WriteString(string(t))
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case nil:
		b.WriteString("null")
	default:
		// parseStrict yields no other types; encode defensively anyway.
		enc, _ := json.Marshal(t)
		b.Write(enc)
	}
}

func writeCanonicalObject(b *bytes.Buffer, obj map[string]any, skip string) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if skip != "" && k == skip {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeCanonicalString(b, k)
		b.WriteByte(':')
		writeCanonical(b, obj[k])
	}
	b.WriteByte('}')
}

func writeCanonicalString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	// Only '"', '\\' and bytes below 0x20 are escaped; every other byte,
	// including each byte of a multi-byte rune, is copied as is, so runs
	// between escapes are written in one piece. (encoding/json already
	// replaced invalid UTF-8 with U+FFFD.)
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b.WriteString(s[start:i])
		start = i + 1
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			const hex = "0123456789abcdef"
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
