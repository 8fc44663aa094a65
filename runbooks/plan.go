package runbooks

import (
	"errors"
	"fmt"
	"strings"
)

// WhenResult is what a dry run can say about a step's condition.
type WhenResult string

const (
	WhenTrue    WhenResult = "true"
	WhenFalse   WhenResult = "false"
	WhenUnknown WhenResult = "unknown" // depends on step results or the incident
)

// PlannedStep is one step of a dry run: what would run, with which params,
// under which policy. Nothing is executed to build it.
type PlannedStep struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Parent is the id of the enclosing parallel group.
	Parent     string     `json:"parent,omitempty"`
	Kind       StepKind   `json:"kind"`
	Action     string     `json:"action,omitempty"`
	SideEffect SideEffect `json:"side_effect,omitempty"`
	// Params are rendered with the action's defaults applied; templates that
	// need step results or incident data show as "<steps.x.outputs.y>".
	Params    map[string]any `json:"params,omitempty"`
	When      string         `json:"when,omitempty"`
	WillRun   WhenResult     `json:"will_run"`
	Retry     *Retry         `json:"retry,omitempty"`
	Timeout   Duration       `json:"timeout,omitempty"`
	OnFailure OnFailure      `json:"on_failure,omitempty"`
	// Approval is the gate with its message rendered and on_timeout defaulted.
	Approval *Approval `json:"approval,omitempty"`
	// Compensation undoes the step; its params are templates over the
	// step's params and outputs, resolved only when it runs.
	Compensation     *Compensation `json:"compensation,omitempty"`
	CompensationFrom string        `json:"compensation_from,omitempty"` // "step" or "action"
	// Error is why a template or condition could not be evaluated; the real
	// run would fail the same way.
	Error string `json:"error,omitempty"`
}

// unknownRoots are the names whose values only exist while an incident runs.
var unknownRoots = map[string]bool{"steps": true, "incident": true}

// Plan is the dry run of a runbook: every step (parallel members too, with
// Parent set) with its resolved params, condition and policies. It touches
// nothing. The returned steps are complete even when err is non-nil; err
// then lists the steps whose templates or conditions failed to evaluate.
func Plan(rb *Runbook, cat Catalog, inputs map[string]any, event map[string]any) ([]PlannedStep, error) {
	if rb == nil {
		return nil, errors.New("plan: no runbook")
	}
	scope := Scope{Inputs: inputs, Event: event}
	var out []PlannedStep
	var errs []error
	add := func(st Step, parent *PlannedStep) {
		p := planStep(st, cat, scope, parent)
		if p.Error != "" {
			errs = append(errs, fmt.Errorf("step %s: %s", p.ID, p.Error))
		}
		out = append(out, p)
	}
	for _, st := range rb.Steps {
		add(st, nil)
		group := out[len(out)-1]
		for _, child := range st.Parallel {
			add(child, &group)
		}
	}
	return out, errors.Join(errs...)
}

func planStep(st Step, cat Catalog, scope Scope, parent *PlannedStep) PlannedStep {
	p := PlannedStep{
		ID: st.ID, Name: st.Name, Kind: st.Kind(), Action: st.Action, When: st.When,
		Retry: st.Retry, Timeout: st.Timeout, OnFailure: st.OnFailure,
	}
	var errs []string
	fail := func(what string, err error) { errs = append(errs, what+": "+err.Error()) }
	if p.OnFailure == "" {
		p.OnFailure = OnFailureAbort
	}
	if parent != nil {
		p.Parent = parent.ID
	}
	p.WillRun = planWhen(st.When, scope, fail)
	if parent != nil {
		p.WillRun = andWhen(parent.WillRun, p.WillRun)
	}
	switch p.Kind {
	case StepAction:
		var spec ActionSpec
		var known bool
		if cat != nil {
			spec, known = cat.Action(st.Action)
		}
		if !known {
			errs = append(errs, fmt.Sprintf("unknown action %q", st.Action))
		}
		p.SideEffect = spec.SideEffect
		params := map[string]any{}
		for _, ps := range spec.Params {
			if ps.Default != nil {
				params[ps.Name] = ps.Default
			}
		}
		for k, v := range st.With {
			r, err := planValue(v, scope)
			if err != nil {
				fail("with."+k, err)
				r = v
			}
			params[k] = r
		}
		if len(params) > 0 {
			p.Params = params
		}
		switch {
		case st.Compensate != nil:
			c := *st.Compensate
			p.Compensation, p.CompensationFrom = &c, "step"
		case spec.Compensation != nil:
			p.Compensation = &Compensation{Action: spec.Compensation.Action, With: spec.Compensation.With}
			p.CompensationFrom = "action"
		}
	case StepApproval:
		a := *st.Approval
		if a.OnTimeout == "" {
			a.OnTimeout = OnTimeoutAbort
		}
		for _, f := range []*string{&a.Group, &a.Message} {
			r, err := planValue(*f, scope)
			if err != nil {
				fail("approval", err)
				continue
			}
			*f = fmt.Sprint(r)
		}
		p.Approval = &a
	}
	p.Error = strings.Join(errs, "; ")
	return p
}

func planWhen(cond string, scope Scope, fail func(string, error)) WhenResult {
	if strings.TrimSpace(cond) == "" {
		return WhenTrue
	}
	if needsRun(cond) {
		return WhenUnknown
	}
	ok, err := EvalCondition(cond, scope)
	if err != nil {
		fail("when", err)
		return WhenUnknown
	}
	if ok {
		return WhenTrue
	}
	return WhenFalse
}

// andWhen combines a group's condition with its member's.
func andWhen(a, b WhenResult) WhenResult {
	switch {
	case a == WhenFalse || b == WhenFalse:
		return WhenFalse
	case a == WhenUnknown || b == WhenUnknown:
		return WhenUnknown
	}
	return WhenTrue
}

// needsRun reports whether an expression reads data that only exists while
// the incident runs (step results, incident identity).
func needsRun(src string) bool {
	chains, err := refChains(src)
	if err != nil {
		return false // let evaluation report the error
	}
	for _, c := range chains {
		if unknownRoots[c.root] {
			return true
		}
	}
	return false
}

// planValue renders templates like RenderValue, but shows a placeholder
// that needs run-time data as "<expr>" instead of failing.
func planValue(v any, scope Scope) (any, error) {
	switch t := v.(type) {
	case string:
		return planString(t, scope)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := planValue(e, scope)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			r, err := planValue(e, scope)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

func planString(s string, scope Scope) (any, error) {
	locs := templateRe.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 0 {
		return s, nil
	}
	eval := func(src string) (any, error) {
		if needsRun(src) {
			return "<" + src + ">", nil
		}
		return Eval(src, scope)
	}
	if len(locs) == 1 && locs[0][0] == 0 && locs[0][1] == len(s) {
		return eval(s[locs[0][2]:locs[0][3]])
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		b.WriteString(s[last:l[0]])
		v, err := eval(s[l[2]:l[3]])
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
