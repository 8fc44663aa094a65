package runbooks

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Scope is everything a template or condition can see. Every field is
// recorded data (workflow input or earlier step results), so evaluation is a
// pure function and safe inside workflow code.
type Scope struct {
	Inputs   map[string]any       `json:"inputs"`
	Event    map[string]any       `json:"event"`
	Steps    map[string]StepScope `json:"steps"`
	Incident map[string]any       `json:"incident"` // id, runbook, trigger
	// Params and Outputs are set only when rendering a compensation: the
	// undone step's resolved params and its outputs (params.bot,
	// outputs.key_id in CompensationSpec.With and a step's compensate.with).
	Params  map[string]any `json:"params,omitempty"`
	Outputs map[string]any `json:"outputs,omitempty"`
}

// StepScope is what later steps see of an earlier one: steps.<id>.status and
// steps.<id>.outputs.<key>.
type StepScope struct {
	Status  string         `json:"status"`
	Outputs map[string]any `json:"outputs"`
}

func (s Scope) env() map[string]any {
	steps := map[string]any{}
	for id, st := range s.Steps {
		outs := st.Outputs
		if outs == nil {
			outs = map[string]any{}
		}
		steps[id] = map[string]any{"status": st.Status, "outputs": outs}
	}
	env := map[string]any{
		"inputs":   nonNil(s.Inputs),
		"event":    nonNil(s.Event),
		"steps":    steps,
		"incident": nonNil(s.Incident),
	}
	if s.Params != nil {
		env["params"] = s.Params
	}
	if s.Outputs != nil {
		env["outputs"] = s.Outputs
	}
	return env
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// ExprOptions are the expr-lang options every runbook expression compiles
// with. Workflow code must be deterministic: a replay has to compute exactly
// what the first run did. So builtins that read the clock or the local time
// zone (now, date, timezone) are disabled, and so are keys, values and
// toPairs: they list a map in Go's map iteration order, which is randomised
// per run, so `keys(inputs)[0]` could differ between the original run and a
// replay and break the workflow (or silently pick another bot). Sorted access
// (`sort(keys(m))`) is not worth that risk; index maps by name instead.
func ExprOptions() []expr.Option {
	return []expr.Option{
		expr.AllowUndefinedVariables(),
		expr.DisableBuiltin("now"),
		expr.DisableBuiltin("date"),
		expr.DisableBuiltin("timezone"),
		expr.DisableBuiltin("keys"),
		expr.DisableBuiltin("values"),
		expr.DisableBuiltin("toPairs"),
		expr.MaxNodes(2000),
	}
}

var (
	progMu    sync.Mutex
	progCache = map[string]*vm.Program{}
)

// compile caches programs: the same runbook is evaluated many times.
func compile(src string) (*vm.Program, error) {
	progMu.Lock()
	defer progMu.Unlock()
	if p, ok := progCache[src]; ok {
		return p, nil
	}
	p, err := expr.Compile(src, ExprOptions()...)
	if err != nil {
		return nil, err
	}
	progCache[src] = p
	return p, nil
}

// CompileCheck reports whether src is a valid expression (used by validation).
func CompileCheck(src string) error {
	_, err := compile(src)
	return err
}

// Eval evaluates one expression against the scope.
func Eval(src string, scope Scope) (any, error) {
	p, err := compile(src)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", src, err)
	}
	v, err := expr.Run(p, scope.env())
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", src, err)
	}
	return v, nil
}

// EvalCondition evaluates a `when` condition. An empty condition is true; a
// non-boolean result is an error (a typo should not silently skip a step).
func EvalCondition(src string, scope Scope) (bool, error) {
	if strings.TrimSpace(src) == "" {
		return true, nil
	}
	v, err := Eval(src, scope)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %q gave %T, want bool", src, v)
	}
	return b, nil
}

// templateRe finds ${{ expr }} placeholders.
var templateRe = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// TemplateExprs returns the expressions inside a template string.
func TemplateExprs(s string) []string {
	var out []string
	for _, m := range templateRe.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// RenderString renders one template string. A string that is exactly one
// placeholder keeps the expression's type (number, bool, list, map);
// otherwise placeholders are formatted into the string.
func RenderString(s string, scope Scope) (any, error) {
	locs := templateRe.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 0 {
		return s, nil
	}
	if len(locs) == 1 && locs[0][0] == 0 && locs[0][1] == len(s) {
		return Eval(s[locs[0][2]:locs[0][3]], scope)
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		b.WriteString(s[last:l[0]])
		v, err := Eval(s[l[2]:l[3]], scope)
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

// RenderValue renders templates anywhere inside v (strings, lists, maps).
func RenderValue(v any, scope Scope) (any, error) {
	switch t := v.(type) {
	case string:
		return RenderString(t, scope)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := RenderValue(e, scope)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		return RenderParams(t, scope)
	default:
		return v, nil
	}
}

// RenderParams renders a step's `with` map.
func RenderParams(with map[string]any, scope Scope) (map[string]any, error) {
	if with == nil {
		return nil, nil
	}
	out := make(map[string]any, len(with))
	for k, v := range with {
		r, err := RenderValue(v, scope)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = r
	}
	return out, nil
}
