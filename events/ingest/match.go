package ingest

import (
	"fmt"
	"strings"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/runbooks"
)

// LoadedRunbook is a runbook with the content hash of its source.
type LoadedRunbook struct {
	Runbook runbooks.Runbook
	Hash    string // "sha256:…"
}

// Match is one runbook an event triggers.
type Match struct {
	Runbook    LoadedRunbook
	Trigger    int // index into Runbook.Triggers
	IncidentID string
	Inputs     map[string]any
}

// MatchEvent returns, for every runbook, the first trigger the event
// satisfies: its subject pattern matches (NATS wildcards) and its `when`
// condition is true with scope event = the CloudEvent map. Each matched
// runbook yields one Match. A condition or template that fails to evaluate
// is an error: the runbook is broken for this event, which is permanent.
func MatchEvent(rbs []LoadedRunbook, ev breach.Event, evMap map[string]any, natsSubject string) ([]Match, error) {
	scope := runbooks.Scope{Event: evMap}
	var out []Match
	for _, lr := range rbs {
		for i, tr := range lr.Runbook.Triggers {
			if !breach.MatchSubject(tr.Subject, natsSubject) {
				continue
			}
			ok, err := runbooks.EvalCondition(tr.When, scope)
			if err != nil {
				return nil, fmt.Errorf("runbook %s trigger %d when: %w", lr.Runbook.Name, i, err)
			}
			if !ok {
				continue
			}
			inputs, err := mapInputs(lr.Runbook, tr, scope)
			if err != nil {
				return nil, fmt.Errorf("runbook %s trigger %d: %w", lr.Runbook.Name, i, err)
			}
			id, err := incidentID(lr.Runbook.Name, ev.Subject, tr.Dedup, scope)
			if err != nil {
				return nil, fmt.Errorf("runbook %s trigger %d dedup: %w", lr.Runbook.Name, i, err)
			}
			out = append(out, Match{Runbook: lr, Trigger: i, IncidentID: id, Inputs: inputs})
			break
		}
	}
	return out, nil
}

// IncidentID is <runbook>:<bot>[:<dedup>]: a storm of events for one bot
// maps to one incident per runbook.
func IncidentID(runbook, bot, dedup string) string {
	id := runbook + ":" + bot
	if dedup != "" {
		id += ":" + dedup
	}
	return id
}

func incidentID(runbook, bot, dedupTmpl string, scope runbooks.Scope) (string, error) {
	dedup := ""
	if strings.TrimSpace(dedupTmpl) != "" {
		v, err := runbooks.RenderString(dedupTmpl, scope)
		if err != nil {
			return "", err
		}
		if v != nil {
			dedup = strings.TrimSpace(fmt.Sprint(v))
		}
	}
	return IncidentID(runbook, bot, dedup), nil
}

// mapInputs renders the trigger's input templates, then lets the runbook
// package apply types, defaults and required checks exactly as it does for
// `runbook exec --input`.
func mapInputs(rb runbooks.Runbook, tr runbooks.Trigger, scope runbooks.Scope) (map[string]any, error) {
	in := map[string]any{}
	for name, tmpl := range tr.Inputs {
		v, err := runbooks.RenderString(tmpl, scope)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", name, err)
		}
		if v != nil {
			in[name] = v
		}
	}
	return runbooks.ResolveInputValues(&rb, in)
}

// ParseRunbook parses runbook YAML into a LoadedRunbook with its content
// hash (runbooks.Parse + runbooks.Hash). Semantic validation against the
// action catalog stays the caller's job (runbooks.Validate).
func ParseRunbook(file string, src []byte) (LoadedRunbook, error) {
	rb, _, err := runbooks.Parse(file, src)
	if err != nil {
		return LoadedRunbook{}, err
	}
	return LoadedRunbook{Runbook: *rb, Hash: runbooks.Hash(src)}, nil
}
