package workflows

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/expr-lang/expr"

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

// Compensation templates see two names the runbooks Scope does not carry:
// `params` (the original step's rendered params) and `outputs` (its outputs).
// runbooks.Scope has no slot for extra variables, so this small renderer
// evaluates with the same expr options and the same ${{ }} syntax over an
// environment that adds them. If runbooks.Scope grows such a slot, this file
// should shrink to a call into it.
var compTemplateRe = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

type compRenderer struct{ env map[string]any }

func newCompRenderer(scope runbooks.Scope, params, outputs map[string]any) compRenderer {
	steps := map[string]any{}
	for id, s := range scope.Steps {
		outs := s.Outputs
		if outs == nil {
			outs = map[string]any{}
		}
		steps[id] = map[string]any{"status": s.Status, "outputs": outs}
	}
	return compRenderer{env: map[string]any{
		"inputs":   orEmpty(scope.Inputs),
		"event":    orEmpty(scope.Event),
		"steps":    steps,
		"incident": orEmpty(scope.Incident),
		"params":   orEmpty(params),
		"outputs":  orEmpty(outputs),
	}}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func (c compRenderer) params(with map[string]any) (map[string]any, error) {
	if with == nil {
		return nil, nil
	}
	out := make(map[string]any, len(with))
	for _, k := range sortedKeys(with) {
		v, err := c.value(with[k])
		if err != nil {
			return nil, fmt.Errorf("param %s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

func (c compRenderer) value(v any) (any, error) {
	switch t := v.(type) {
	case string:
		return c.str(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := c.value(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		return c.params(t)
	default:
		return v, nil
	}
}

// str keeps the expression's type when the string is exactly one
// placeholder, as runbooks.RenderString does.
func (c compRenderer) str(s string) (any, error) {
	locs := compTemplateRe.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 0 {
		return s, nil
	}
	if len(locs) == 1 && locs[0][0] == 0 && locs[0][1] == len(s) {
		return c.eval(s[locs[0][2]:locs[0][3]])
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		b.WriteString(s[last:l[0]])
		v, err := c.eval(s[l[2]:l[3]])
		if err != nil {
			return nil, err
		}
		if v != nil {
			fmt.Fprint(&b, v)
		}
		last = l[1]
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

func (c compRenderer) eval(src string) (any, error) {
	p, err := expr.Compile(src, runbooks.ExprOptions()...)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", src, err)
	}
	v, err := expr.Run(p, c.env)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", src, err)
	}
	return v, nil
}
