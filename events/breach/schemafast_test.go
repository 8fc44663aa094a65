package breach

import (
	"encoding/json"
	"strings"
	"testing"
)

func parsedObject(t *testing.T, body []byte) map[string]any {
	t.Helper()
	v, err := parseStrictTokens(body)
	if err != nil {
		t.Fatal(err)
	}
	return v.(map[string]any)
}

// Every rule of the schema, broken one at a time: Decode refuses with
// reason schema, and the fast path never accepts (the validator decides).
func TestEverySchemaRuleIsEnforced(t *testing.T) {
	good := signed(t, sample(), "k2")
	acct := signed(t, accountSample(), "k2")
	if !schemaFastOK(parsedObject(t, good)) || !schemaFastOK(parsedObject(t, acct)) {
		t.Fatal("the plain signed events should take the fast path")
	}
	top := func(k string, v any) []byte {
		return mutate(t, good, func(m map[string]any) {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		})
	}
	data := func(base []byte, k string, v any) []byte {
		return mutate(t, base, func(m map[string]any) {
			d := m["data"].(map[string]any)
			if v == nil {
				delete(d, k)
			} else {
				d[k] = v
			}
		})
	}
	cases := map[string][]byte{}
	for _, k := range []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"} {
		cases["required "+k] = top(k, nil)
	}
	for _, k := range []string{"bot", "exchange", "key_id", "severity", "source", "evidence"} {
		cases["required data."+k] = data(good, k, nil)
	}
	for name, b := range map[string][]byte{
		"specversion const":       top("specversion", "1.1"),
		"specversion type":        top("specversion", 1.0),
		"id type":                 top("id", 7),
		"id minLength":            top("id", ""),
		"id maxLength":            top("id", strings.Repeat("é", 201)),
		"source type":             top("source", true),
		"source minLength":        top("source", ""),
		"source maxLength":        top("source", "/"+strings.Repeat("a", 500)),
		"source uri-reference":    top("source", `/a\b`),
		"source bad escape":       top("source", "/a%zz"),
		"source colon in segment": top("source", "1a:b"),
		"source bad port":         top("source", "http://host:port/x"),
		"type pattern":            top("type", "io.keyresponse.breach.Key-Leaked"),
		"type prefix":             top("type", "com.example.breach.key_leaked"),
		"type too long":           top("type", TypePrefix+strings.Repeat("a", 65)),
		"subject token":           top("subject", "bot 7"),
		"subject too long":        top("subject", strings.Repeat("b", 65)),
		"subject type":            top("subject", 7),
		"time format":             top("time", "2026-11-27 09:00:00Z"),
		"time date":               top("time", "2026-02-30T09:00:00Z"),
		"time hour":               top("time", "2026-11-27T24:00:00Z"),
		"time bad leap second":    top("time", "2026-11-27T09:00:60Z"),
		"time offset":             top("time", "2026-11-27T09:00:00+24:00"),
		"time type":               top("time", 1700000000),
		"datacontenttype const":   top("datacontenttype", "text/plain"),
		"dataschema uri":          top("dataschema", "relative/path"),
		"dataschema type":         top("dataschema", 1),
		"sigkeyid pattern":        top("sigkeyid", "k 2"),
		"signature pattern":       top("signature", "short="),
		"signature without id":    top("sigkeyid", nil),
		"sigkeyid without sig":    top("signature", nil),
		"attribute name pattern":  top("Xext", "v"),
		"attribute name length":   top(strings.Repeat("x", 21), "v"),
		"extension object":        top("xobj", map[string]any{}),
		"extension array":         top("xarr", []any{}),
		"extension null":          top("xnull", json.RawMessage("null")),
		"data type":               top("data", "x"),
		"data additional":         data(good, "extra", "x"),
		"data.bot token":          data(good, "bot", "bot 7"),
		"data.bot empty":          data(good, "bot", ""),
		"data.bot type":           data(good, "bot", 7),
		"account bot not empty":   data(acct, "bot", "bot-7"),
		"account bot type":        data(acct, "bot", json.RawMessage("null")),
		"exchange pattern":        data(good, "exchange", "Binance"),
		"exchange too long":       data(good, "exchange", strings.Repeat("x", 33)),
		"exchange empty":          data(good, "exchange", ""),
		"key_id maxLength":        data(good, "key_id", strings.Repeat("k", 257)),
		"key_id type":             data(good, "key_id", 1),
		"severity enum":           data(good, "severity", "severe"),
		"severity type":           data(good, "severity", 3),
		"data.source minLength":   data(good, "source", ""),
		"data.source maxLength":   data(good, "source", strings.Repeat("s", 201)),
		"evidence type":           data(good, "evidence", []any{}),
		"evidence null":           data(good, "evidence", json.RawMessage("null")),
	} {
		cases[name] = b
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			if schemaFastOK(parsedObject(t, body)) {
				t.Fatalf("fast path accepted %s", body)
			}
			_, err := Decode("", body)
			if ReasonOf(err) != ReasonSchema {
				t.Fatalf("got %v, want a schema refusal", err)
			}
			sameAsReference(t, "", body)
		})
	}
}

// Valid events the fast path leaves to the validator (or takes) are
// accepted all the same.
func TestSchemaEdgesStillAccepted(t *testing.T) {
	good := signed(t, sample(), "k2")
	top := func(k string, v any) []byte {
		return mutate(t, good, func(m map[string]any) { m[k] = v })
	}
	for name, body := range map[string][]byte{
		"lowercase t and z":     top("time", "2026-11-27t09:00:00z"),
		"leap second":           top("time", "2026-11-27T23:59:60Z"), // schema yes, Go no: see below
		"offset and fraction":   top("time", "2026-11-27T10:00:00.123456+01:00"),
		"dataschema":            top("dataschema", "https://keyresponse.io/schemas/breach-event.schema.json"),
		"source URL with query": top("source", "https://alerts.example/rule?id=7#x"),
		"source percent":        top("source", "/monitoring/alert%20manager"),
		"source urn":            top("source", "urn:keyresponse:cli"),
		"long non-ASCII id":     top("id", strings.Repeat("é", 150)),
		"extensions":            top("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
		"number extension":      top("xcount", 3),
		"bool extension":        top("xflag", true),
	} {
		t.Run(name, func(t *testing.T) {
			sameAsReference(t, "", body)
			_, err := Decode("", body)
			// The schema allows these times; Go's RFC 3339 parser, which
			// the Event's time.Time needs, does not: refused as always.
			if want := map[string]string{"leap second": "second out of range", "lowercase t and z": `as "T"`}[name]; want != "" {
				if ReasonOf(err) != ReasonSchema || !strings.Contains(err.Error(), want) {
					t.Fatalf("got %v, want a schema refusal with %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
