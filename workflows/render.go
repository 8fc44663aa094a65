package workflows

import (
	"fmt"
	"slices"

	"github.com/keyresponse/runbook/runbooks"
)

// renderParams renders a step's `with` in sorted key order, so that when
// several keys are broken the reported error is the same on every replay.
func renderParams(with map[string]any, scope runbooks.Scope) (map[string]any, error) {
	if with == nil {
		return nil, nil
	}
	out := make(map[string]any, len(with))
	for _, k := range sortedKeys(with) {
		v, err := runbooks.RenderValue(with[k], scope)
		if err != nil {
			return nil, fmt.Errorf("param %s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// renderCompensation renders a compensation's `with`: besides the usual
// names it sees `params` (the original step's rendered params) and
// `outputs` (that step's outputs).
func renderCompensation(with map[string]any, scope runbooks.Scope, params, outputs map[string]any) (map[string]any, error) {
	scope.Params, scope.Outputs = orEmpty(params), orEmpty(outputs)
	return renderParams(with, scope)
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
