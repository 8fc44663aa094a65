package runbooks

import (
	"fmt"
	"sort"
	"strings"
)

// Validate checks one runbook file against the schema and the action
// catalog and returns every problem found, sorted by position. An empty
// result means the runbook is valid. A nil catalog skips the checks that
// need one (action names, params, declared outputs).
func Validate(file string, src []byte, cat Catalog) []Problem {
	rb, s, problems := parse(file, src)
	if rb != nil && s != nil {
		problems = append(problems, Check(rb, s, cat)...)
	}
	return sortProblems(problems)
}

// Check runs the semantic checks (actions, params, expressions, references,
// ids, triggers) on an already parsed runbook; s supplies positions.
func Check(rb *Runbook, s *Source, cat Catalog) []Problem {
	v := newChecker(rb, s, cat)
	v.checkInputs()
	v.checkTriggers()
	for i := range rb.Steps {
		v.checkStep(&rb.Steps[i], joinIndex("steps", i))
	}
	return sortProblems(v.problems)
}

// stepInfo is where a step sits in the run order: top-level steps get their
// index; steps of a parallel group share the group's index and name it as
// parent.
type stepInfo struct {
	step   *Step
	path   string
	order  int
	parent string
	spec   *ActionSpec
}

type checker struct {
	rb       *Runbook
	s        *Source
	cat      Catalog
	file     string
	problems []Problem
	steps    map[string]*stepInfo
	stepIDs  []string
	inputs   map[string]Input
	actions  []string
	// hintBudget is what is left of maxHintComparisons.
	hintBudget int
}

func newChecker(rb *Runbook, s *Source, cat Catalog) *checker {
	v := &checker{rb: rb, s: s, cat: cat, file: s.File, steps: map[string]*stepInfo{}, inputs: map[string]Input{}, hintBudget: maxHintComparisons}
	if cat != nil {
		for _, a := range cat.Actions() {
			v.actions = append(v.actions, a.Name)
		}
	}
	for _, in := range rb.Inputs {
		if _, ok := v.inputs[in.Name]; !ok {
			v.inputs[in.Name] = in
		}
	}
	for i := range rb.Steps {
		st := &rb.Steps[i]
		path := joinIndex("steps", i)
		v.addStep(st, path, i, "")
		for j := range st.Parallel {
			v.addStep(&st.Parallel[j], joinIndex(path+".parallel", j), i, st.ID)
		}
	}
	return v
}

// addStep indexes a step id; ids are global, nested steps included.
func (v *checker) addStep(st *Step, path string, order int, parent string) {
	if st.ID == "" {
		return
	}
	if first, dup := v.steps[st.ID]; dup {
		line, _ := v.s.Pos(first.path + ".id")
		v.at(path+".id", "duplicate step id %q (first defined at line %d)", st.ID, line)
		return
	}
	info := &stepInfo{step: st, path: path, order: order, parent: parent}
	if st.Action != "" && v.cat != nil {
		if spec, ok := v.cat.Action(st.Action); ok {
			info.spec = &spec
		}
	}
	v.steps[st.ID] = info
	v.stepIDs = append(v.stepIDs, st.ID)
}

// at records a problem at the value of field; key records it at the key.
func (v *checker) at(field, format string, args ...any) {
	line, col := v.s.Pos(field)
	v.problems = append(v.problems, Problem{File: v.file, Line: line, Col: col, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *checker) key(field, format string, args ...any) {
	line, col := v.s.KeyPos(field)
	v.problems = append(v.problems, Problem{File: v.file, Line: line, Col: col, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *checker) checkInputs() {
	seen := map[string]bool{}
	for i, in := range v.rb.Inputs {
		path := joinIndex("inputs", i)
		if seen[in.Name] {
			v.at(path+".name", "duplicate input %q", in.Name)
		}
		seen[in.Name] = true
		if in.Default != nil {
			if _, err := coerceInput(in, in.Default); err != nil {
				v.at(path+".default", "default does not fit type %s: %v", in.Type, err)
			}
		}
	}
}

func (v *checker) checkStep(st *Step, path string) {
	info := v.steps[st.ID]
	if info == nil || info.step != st {
		// A duplicate id: checked as its own step, references resolve to
		// the first one.
		info = &stepInfo{step: st, path: path, order: -1}
	}
	ctx := exprCtx{roots: stepRoots, from: info}
	switch st.Kind() {
	case StepAction:
		if st.Action != "" { // a missing action is the schema's finding
			v.checkAction(st, path, info)
		}
	case StepParallel:
		for j := range st.Parallel {
			v.checkStep(&st.Parallel[j], joinIndex(path+".parallel", j))
		}
	case StepApproval:
		if st.Timeout != 0 {
			v.key(path+".timeout", "an approval gate's timeout goes in approval.timeout")
		}
		v.checkTemplates(st.Approval.Group, path+".approval.group", ctx)
		v.checkTemplates(st.Approval.Message, path+".approval.message", ctx)
	}
	if st.Kind() != StepAction {
		for _, f := range []string{"with", "retry", "compensate"} {
			if v.s.Has(path + "." + f) {
				v.key(path+"."+f, "%s is only allowed on action steps", f)
			}
		}
	}
	if st.When != "" {
		v.checkExpr(st.When, path+".when", ctx)
	}
	if r := st.Retry; r != nil && r.InitialInterval != 0 && r.MaxInterval != 0 && r.MaxInterval < r.InitialInterval {
		v.at(path+".retry.max_interval", "max_interval %s is shorter than initial_interval %s", r.MaxInterval, r.InitialInterval)
	}
}

func (v *checker) checkAction(st *Step, path string, info *stepInfo) {
	ctx := exprCtx{roots: stepRoots, from: info}
	v.walkTemplates(st.With, path+".with", ctx)
	spec, ok := v.lookupAction(st.Action, path+".action")
	if ok {
		v.checkParams(spec, st.With, path, "action")
	}
	if c := st.Compensate; c != nil {
		cctx := exprCtx{roots: compensationRoots, from: info, compensation: true}
		v.walkTemplates(c.With, path+".compensate.with", cctx)
		if cspec, ok := v.lookupAction(c.Action, path+".compensate.action"); ok {
			v.checkParams(cspec, c.With, path+".compensate", "action")
		}
	}
}

// lookupAction finds an action in the catalog or reports it with the
// closest registered name.
func (v *checker) lookupAction(name, field string) (ActionSpec, bool) {
	if v.cat == nil {
		return ActionSpec{}, false
	}
	spec, ok := v.cat.Action(name)
	if !ok {
		v.at(field, "unknown action %q%s", name, didYouMean(name, v.actions))
	}
	return spec, ok
}

// checkParams checks a `with` map against the action's declared params.
// path is the step (or compensate block); actionField names its action key.
func (v *checker) checkParams(spec ActionSpec, with map[string]any, path, actionField string) {
	names := make([]string, 0, len(spec.Params))
	for _, p := range spec.Params {
		names = append(names, p.Name)
	}
	keys := make([]string, 0, len(with))
	for k := range with {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field := joinKey(path+".with", k)
		ps, ok := spec.Param(k)
		if !ok {
			hint := didYouMean(k, names)
			if hint == "" && len(names) > 0 {
				hint = " (params: " + strings.Join(names, ", ") + ")"
			}
			v.key(field, "unknown param %q for action %s%s", k, spec.Name, hint)
			continue
		}
		if msg := literalMismatch(ps, with[k]); msg != "" {
			v.at(field, "%s", msg)
		}
	}
	for _, ps := range spec.Params {
		if _, given := with[ps.Name]; ps.Required && ps.Default == nil && !given {
			field := path + ".with"
			if !v.s.Has(field) {
				field = path + "." + actionField
			}
			v.key(field, "missing required param %q for action %s", ps.Name, spec.Name)
		}
	}
}

// literalMismatch reports a literal value that cannot be what the param
// declares. Values holding templates are only known at run time.
func literalMismatch(ps ParamSpec, val any) string {
	if s, ok := val.(string); ok && hasTemplate(s) {
		return ""
	}
	want := ""
	switch ps.Type {
	case ParamString:
		if _, ok := val.(string); !ok {
			want = "a string"
		}
	case ParamInt:
		if f, ok := val.(float64); !ok || f != float64(int64(f)) {
			want = "an integer"
		}
	case ParamNumber:
		if _, ok := val.(float64); !ok {
			want = "a number"
		}
	case ParamBool:
		if _, ok := val.(bool); !ok {
			want = "true or false"
		}
	case ParamDuration:
		s, ok := val.(string)
		if !ok {
			want = "a duration string like 30s"
		} else if _, err := ParseDuration(s); err != nil {
			return fmt.Sprintf("param %q: %v", ps.Name, err)
		}
	case ParamList:
		l, ok := val.([]any)
		if !ok {
			want = "a list of strings"
		}
		for i, e := range l {
			if _, ok := e.(string); !ok {
				return fmt.Sprintf("param %q must be a list of strings, item %d is %s", ps.Name, i, describe(e))
			}
		}
	case ParamMap:
		if _, ok := val.(map[string]any); !ok {
			want = "a map"
		}
	}
	if want != "" {
		return fmt.Sprintf("param %q must be %s, got %s", ps.Name, want, describe(val))
	}
	if len(ps.Enum) > 0 {
		s := fmt.Sprint(val)
		for _, e := range ps.Enum {
			if e == s {
				return ""
			}
		}
		return fmt.Sprintf("param %q: %q is not one of %s", ps.Name, s, strings.Join(ps.Enum, ", "))
	}
	return ""
}

// describe names a JSON value's type with the value for short scalars.
func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", t)
	case float64:
		return fmt.Sprintf("number %v", t)
	case bool:
		return fmt.Sprintf("bool %v", t)
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	default:
		return fmt.Sprintf("%T", v)
	}
}
