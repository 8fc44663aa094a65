package breach

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// decodeReference is Decode as it was before the one-parse decoder: the
// token-by-token parse, the schema, a second json.Unmarshal into Event and
// the extensions, four walks of the same bytes. The fast Decode must agree
// with it on every input: same refusal (reason and detail) or the same
// Event and canonical bytes. FuzzDecode checks that on its corpus.
func decodeReference(natsSubject string, body []byte) (Event, error) {
	if len(body) > MaxEventBytes {
		return Event{}, refuse(ReasonOversized, "%d bytes, limit %d", len(body), MaxEventBytes)
	}
	v, err := parseStrictTokens(body)
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
		return Event{}, err
	}
	if err := sch.Validate(obj); err != nil {
		return Event{}, refuse(ReasonSchema, "%s", schemaMessage(err))
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return Event{}, refuse(ReasonSchema, "%v", err)
	}
	if err := checkSubjects(ev, natsSubject); err != nil {
		return Event{}, err
	}
	for k, x := range obj {
		if !knownAttribute[k] {
			if ev.Extensions == nil {
				ev.Extensions = map[string]any{}
			}
			ev.Extensions[k] = plainValue(x)
		}
	}
	ev.canonical = canonicalOfRef(obj)
	return ev, nil
}

// mapReference is Event.Map as a JSON round trip.
func mapReference(e Event) (map[string]any, error) {
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

// sameAsReference fails t when Decode and Map disagree with the reference.
func sameAsReference(t *testing.T, subject string, body []byte) {
	t.Helper()
	// The one-pass parser may only ever accept, and must build exactly,
	// what the token parser does.
	// It also takes every body the token parser takes (else valid events
	// would pay for the slow parser).
	v, ok := parsePlain(body)
	ref, err := parseStrictTokens(body)
	if ok != (err == nil) || ok && !reflect.DeepEqual(v, ref) {
		t.Fatalf("parsePlain %#v, %v; token parser %#v, %v\nbody %q", v, ok, ref, err, body)
	}
	// The schema fast path may only ever accept what the schema accepts.
	if len(body) <= MaxEventBytes {
		if v, err := parseStrictTokens(body); err == nil {
			if obj, ok := v.(map[string]any); ok && schemaFastOK(obj) {
				sch, err := Schema()
				if err != nil {
					t.Fatal(err)
				}
				if err := sch.Validate(obj); err != nil {
					t.Fatalf("schemaFastOK accepted what the schema refuses: %v\nbody %q", err, body)
				}
			}
		}
	}
	got, gerr := Decode(subject, body)
	want, werr := decodeReference(subject, body)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("Decode error %v, reference error %v\nbody %q", gerr, werr, body)
	}
	if gerr != nil {
		if ReasonOf(gerr) != ReasonOf(werr) {
			t.Fatalf("reason %q, reference %q\nbody %q", ReasonOf(gerr), ReasonOf(werr), body)
		}
		// Which of several secret-looking fields is named depends on map
		// order in both, and so does the order of names in a schema
		// message; every other detail must match word for word.
		switch ReasonOf(gerr) {
		case ReasonSecretField:
		case ReasonSchema:
			// A detail cut at maxDetail keeps a random part of the list.
			truncated := strings.HasSuffix(gerr.Error(), "…") || strings.HasSuffix(werr.Error(), "…")
			if !truncated && sortedWords(gerr.Error()) != sortedWords(werr.Error()) {
				t.Fatalf("detail %q, reference %q\nbody %q", gerr, werr, body)
			}
		default:
			if gerr.Error() != werr.Error() {
				t.Fatalf("detail %q, reference %q\nbody %q", gerr, werr, body)
			}
		}
		return
	}
	if !got.Time.Equal(want.Time) || got.Time.Format(time.RFC3339Nano) != want.Time.Format(time.RFC3339Nano) {
		t.Fatalf("time %v, reference %v", got.Time, want.Time)
	}
	g, w := got, want
	g.Time, w.Time = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("event\n%#v\nreference\n%#v", g, w)
	}
	gm, gerr := got.Map()
	wm, werr := mapReference(want)
	if (gerr == nil) != (werr == nil) || !reflect.DeepEqual(gm, wm) {
		t.Fatalf("map %v (%v)\nreference %v (%v)", gm, gerr, wm, werr)
	}
}

// The corner cases where the one-parse decoder takes a shortcut the
// reference does not: escapes (time is parsed from the raw bytes), numbers
// beyond float64, duplicate keys hidden by escapes, the depth limit,
// trailing data, extensions.
func TestDecodeMatchesReference(t *testing.T) {
	good := string(signed(t, sample(), "k2"))
	acct := string(signed(t, accountSample(), "k2"))
	rep := func(old, new string) []byte { return []byte(replaceOnce(good, old, new)) }
	nest := func(n int, inner string) []byte {
		b := []byte{}
		for i := 0; i < n; i++ {
			b = append(b, '[')
		}
		b = append(b, inner...)
		for i := 0; i < n; i++ {
			b = append(b, ']')
		}
		return b
	}
	bodies := map[string][]byte{
		"good":                    []byte(good),
		"account":                 []byte(acct),
		"escaped time digit":      rep(`"time":"2026`, `"time":"20\u00326`),
		"escaped time key":        rep(`"time":"2026`, `"\u0074ime":"2026`),
		"escaped time key, value": rep(`"time":"2026`, `"\u0074ime":"202\u0036`),
		"time in evidence":        rep(`"count":3`, `"count":3,"time":"20\u00326-11-27T09:00:00Z","x":{"time":"\u0032"}`),
		"escaped time, evidence":  rep(`"count":3`, `"count":3,"n":["time","\u0032",{"time":"1"}]`),
		"escape elsewhere":        rep(`"acme/bot"`, `"acme\/bot"`),
		"escaped key":             rep(`"id":`, `"\u0069d":`),
		"escaped duplicate key":   rep(`"id":`, `"\u0069d":"x","id":`),
		"nested duplicate key":    rep(`"count":3`, `"count":3,"count":4`),
		"leap second":             rep(`"time":"2026-11-27T09:00:00Z"`, `"time":"2026-11-27T23:59:60Z"`),
		"time with offset":        rep(`"time":"2026-11-27T09:00:00Z"`, `"time":"2026-11-27T10:00:00.123+01:00"`),
		"lowercase time":          rep(`"time":"2026-11-27T09:00:00Z"`, `"time":"2026-11-27t09:00:00z"`),
		"huge evidence number":    rep(`"count":3`, `"count":1e999`),
		"huge nested number":      rep(`"count":3`, `"count":[{"a":-1e999}]`),
		"tiny evidence number":    rep(`"count":3`, `"count":1e-999`),
		"number literal kept":     rep(`"count":3`, `"count":1.50`),
		"huge extension number":   rep(`"specversion"`, `"xnum":1e999,"specversion"`),
		"extensions":              rep(`"specversion"`, `"xs":"a","xb":true,"xn":-0.0,"specversion"`),
		"object extension":        rep(`"specversion"`, `"xo":{},"specversion"`),
		"invalid utf8":            rep(`"acme/bot"`, "\"acme\xff/bot\""),
		"lone surrogate":          rep(`"acme/bot"`, `"acme\ud800bot"`),
		"trailing garbage":        []byte(good + " x"),
		"trailing value":          []byte(good + " {}"),
		"trailing space":          []byte(good + " \n\t\r"),
		"two top-level values":    []byte(`1 2`),
		"scalar":                  []byte(`"x"`),
		"depth 33 empty":          nest(33, ""),
		"depth 34 empty":          nest(34, ""),
		"depth 33 with a value":   nest(33, "1"),
		"depth 32 with a value":   nest(32, "1"),
		"depth 33 with a string":  nest(33, `"a"`),
		"object at the limit":     nest(32, `{"a":1}`),
		"object below the limit":  nest(31, `{"a":1}`),
		"colon inside strings":    rep(`"acme/bot"`, `"a:b:\":c"`),
		"backslash before quote":  rep(`"acme/bot"`, `"acme\\"`),
		"syntax error":            rep(`"count":3`, `"count":3,,`),
		"duplicate then bad":      rep(`"count":3`, `"count":3,"count":4,,`),
		"deep then bad":           append(nest(40, ""), '}'),
		"empty":                   {},
		"secret in extension":     rep(`"specversion"`, `"xpassword":"x","specversion"`),
		"empty bot account":       []byte(replaceOnce(acct, `"bot":""`, `"bot":"b"`)),
		"unsigned account":        []byte(replaceOnce(replaceOnce(acct, `"sigkeyid":"k2",`, ``), `"signature"`, `"x"`)),
		"kelvin secret":           rep(`"repo"`, "\"\u212Aey_secret\""),
		"long key secret":         rep(`"repo"`, `"`+string(nest(40, ""))+`secret"`),
		"unicode lowercasing key": rep(`"repo"`, "\"PASSW\u00d8RD\""),
	}
	for name, body := range bodies {
		for _, subject := range []string{"", "breach.bot-7.key_leaked", "breach.binance.account_leaked"} {
			t.Run(name+"/"+subject, func(t *testing.T) { sameAsReference(t, subject, body) })
		}
	}
}

// sortedWords is s as a sorted list of words without , and ;.
func sortedWords(s string) string {
	w := strings.Fields(strings.NewReplacer(",", " ", ";", " ").Replace(s))
	sort.Strings(w)
	return strings.Join(w, " ")
}

func replaceOnce(s, old, new string) string {
	i := strings.Index(s, old)
	if i < 0 {
		panic("replaceOnce: " + old + " not in body")
	}
	return s[:i] + new + s[i+len(old):]
}

// canonicalOfRef is the canonical encoder as first written (rune by rune,
// strconv for \u00xx): the reference for canonicalOf.
func canonicalOfRef(obj map[string]any) []byte {
	var b bytes.Buffer
	b.Grow(512)
	writeCanonicalObjectRef(&b, obj, "signature")
	return b.Bytes()
}

func writeCanonicalRef(b *bytes.Buffer, v any) {
	switch t := v.(type) {
	case map[string]any:
		writeCanonicalObjectRef(b, t, "")
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonicalRef(b, e)
		}
		b.WriteByte(']')
	case string:
		writeCanonicalStringRef(b, t)
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

func writeCanonicalObjectRef(b *bytes.Buffer, obj map[string]any, skip string) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if skip != "" && k == skip {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeCanonicalStringRef(b, k)
		b.WriteByte(':')
		writeCanonicalRef(b, obj[k])
	}
	b.WriteByte('}')
}

func writeCanonicalStringRef(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			b.WriteString(`\u00`)
			h := strconv.FormatInt(int64(r), 16)
			if len(h) < 2 {
				b.WriteByte('0')
			}
			b.WriteString(h)
		default:
			// encoding/json already replaced invalid UTF-8 with U+FFFD.
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// Every byte, escaped or not, valid UTF-8 or not, encodes as the reference
// encoder does.
func TestCanonicalStringMatchesReference(t *testing.T) {
	strs := []string{"", "plain", "é€😀", "\x00\x1f\x7f\"\\/<>&", "\xff\xfe", "a\xc3", "\u2028\u2029", "\ufffd"}
	for c := 0; c < 256; c++ {
		strs = append(strs, string([]byte{byte(c)}), "x"+string([]byte{byte(c)})+"y")
	}
	for _, s := range strs {
		var got, want bytes.Buffer
		writeCanonicalString(&got, s)
		writeCanonicalStringRef(&want, s)
		if got.String() != want.String() {
			t.Fatalf("%q: got %q, reference %q", s, got.String(), want.String())
		}
	}
}

// The one-pass parser against the token parser on JSON shapes events rarely
// have: it either builds the same tree or leaves the body to the others.
func TestParsePlainMatchesTokenParser(t *testing.T) {
	for _, body := range []string{
		`{}`, `[]`, ` { "a" : [ 1 , 2 ] } `, `{"":{"":[]}}`, `-0`, `0.5e+10`, `1E-2`, `-12.5e3`, `1e999`,
		`01`, `1.`, `-`, `.5`, `+1`, `1e`, `1e+`, `0x1`, `NaN`, `tru`, `nul`, `falsey`, `true false`,
		"\"\x7f\"", "\"\u2028\"", "\"a\tb\"", "\"\xff\"", `"\u0041"`, `"a\"b"`, `{"a":1,"a":1}`, `{"a":1,}`,
		`[1,]`, `[,1]`, `{"a" 1}`, `{"a":}`, `{1:2}`, `"unterminated`, `{"a":{"b":{}}`, "\ufeff{}", "{}\x00",
		string(bytes.Repeat([]byte("["), 33)) + string(bytes.Repeat([]byte("]"), 33)),
		string(bytes.Repeat([]byte("["), 34)) + string(bytes.Repeat([]byte("]"), 34)),
	} {
		t.Run(body, func(t *testing.T) {
			sameAsReference(t, "", []byte(body))
			v, err := parseStrict([]byte(body))
			ref, rerr := parseStrictTokens([]byte(body))
			if (err == nil) != (rerr == nil) || (err != nil && err.Error() != rerr.Error()) || !reflect.DeepEqual(v, ref) {
				t.Fatalf("parseStrict %#v, %v; token parser %#v, %v", v, err, ref, rerr)
			}
		})
	}
}
