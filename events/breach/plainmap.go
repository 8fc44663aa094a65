package breach

import (
	"math"
	"unicode/utf8"
)

// plainMap builds Map's result straight from the fields when that gives
// the same map as a JSON round trip; ok is false when only the round trip
// can tell (a value that is not plain JSON, invalid UTF-8 that encoding/json
// would rewrite, a time or extension it would refuse).
func (e Event) plainMap() (m map[string]any, ok bool) {
	ts, err := e.Time.MarshalText()
	if err != nil {
		return nil, false
	}
	for _, s := range [...]string{e.SpecVersion, e.ID, e.Source, e.Type, e.Subject, e.DataContentType, e.DataSchema,
		e.SigKeyID, e.Signature, e.Data.Bot, e.Data.Exchange, e.Data.KeyID, string(e.Data.Severity), e.Data.Source} {
		if !utf8.ValidString(s) {
			return nil, false
		}
	}
	data := map[string]any{
		"bot":      e.Data.Bot,
		"exchange": e.Data.Exchange,
		"key_id":   e.Data.KeyID,
		"severity": string(e.Data.Severity),
		"source":   e.Data.Source,
		"evidence": nil,
	}
	if e.Data.Evidence != nil {
		if data["evidence"], ok = plainCopy(e.Data.Evidence); !ok {
			return nil, false
		}
	}
	m = make(map[string]any, 12+len(e.Extensions))
	m["specversion"] = e.SpecVersion
	m["id"] = e.ID
	m["source"] = e.Source
	m["type"] = e.Type
	m["subject"] = e.Subject
	m["time"] = string(ts)
	m["datacontenttype"] = e.DataContentType
	// The omitempty attributes.
	if e.DataSchema != "" {
		m["dataschema"] = e.DataSchema
	}
	if e.SigKeyID != "" {
		m["sigkeyid"] = e.SigKeyID
	}
	if e.Signature != "" {
		m["signature"] = e.Signature
	}
	m["data"] = data
	for k, v := range e.Extensions {
		if _, taken := m[k]; taken || !utf8.ValidString(k) {
			return nil, false // MarshalJSON refuses or rewrites it
		}
		if m[k], ok = plainCopy(v); !ok {
			return nil, false
		}
	}
	return m, true
}

// plainCopy deep-copies a value made only of what json.Unmarshal into an
// interface produces, so the copy equals a JSON round trip of it; ok is
// false for anything else.
func plainCopy(v any) (any, bool) {
	switch t := v.(type) {
	case nil, bool:
		return t, true
	case string:
		return t, utf8.ValidString(t)
	case float64:
		return t, !math.IsNaN(t) && !math.IsInf(t, 0)
	case map[string]any:
		if t == nil {
			return nil, true // encodes as null
		}
		c := make(map[string]any, len(t))
		for k, x := range t {
			if !utf8.ValidString(k) {
				return nil, false
			}
			y, ok := plainCopy(x)
			if !ok {
				return nil, false
			}
			c[k] = y
		}
		return c, true
	case []any:
		if t == nil {
			return nil, true
		}
		c := make([]any, len(t))
		for i, x := range t {
			y, ok := plainCopy(x)
			if !ok {
				return nil, false
			}
			c[i] = y
		}
		return c, true
	}
	return nil, false
}
