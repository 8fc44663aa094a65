package ingest

import (
	"github.com/keyresponse/runbook/events/breach"
)

// eventMap is ev.Map() without its JSON round trip (marshal, then
// unmarshal into a map), which cost a sixth of the consumer's CPU per
// event. It builds the same map from the decoded fields and falls back to
// ev.Map() for anything it does not handle: extension attributes, or
// evidence holding values that are not plain JSON types. The evidence map
// is shared with ev, not copied: nothing downstream mutates it.
// TestEventMapMatchesMap keeps it equal to ev.Map().
func eventMap(ev breach.Event) (map[string]any, error) {
	if len(ev.Extensions) > 0 || !plainJSON(ev.Data.Evidence) {
		return ev.Map()
	}
	t, err := ev.Time.MarshalText()
	if err != nil {
		return ev.Map()
	}
	var evidence any
	if ev.Data.Evidence != nil {
		evidence = ev.Data.Evidence
	}
	m := make(map[string]any, 10)
	m["specversion"] = ev.SpecVersion
	m["id"] = ev.ID
	m["source"] = ev.Source
	m["type"] = ev.Type
	m["subject"] = ev.Subject
	m["time"] = string(t)
	m["datacontenttype"] = ev.DataContentType
	if ev.DataSchema != "" {
		m["dataschema"] = ev.DataSchema
	}
	if ev.SigKeyID != "" {
		m["sigkeyid"] = ev.SigKeyID
	}
	if ev.Signature != "" {
		m["signature"] = ev.Signature
	}
	m["data"] = map[string]any{
		"bot":      ev.Data.Bot,
		"exchange": ev.Data.Exchange,
		"key_id":   ev.Data.KeyID,
		"severity": string(ev.Data.Severity),
		"source":   ev.Data.Source,
		"evidence": evidence,
	}
	return m, nil
}

// plainJSON tells whether v holds only what encoding/json decodes into an
// interface: nil, bool, float64, string, []any, map[string]any.
func plainJSON(v any) bool {
	switch t := v.(type) {
	case nil, bool, float64, string:
		return true
	case map[string]any:
		for _, x := range t {
			if !plainJSON(x) {
				return false
			}
		}
		return true
	case []any:
		for _, x := range t {
			if !plainJSON(x) {
				return false
			}
		}
		return true
	}
	return false
}
