package runbooks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/parser"
)

// Names an expression may start from. Steps see the full Scope; an action's
// compensation also sees the step's own params and outputs; triggers see
// only the event.
var (
	stepRoots         = []string{"inputs", "event", "steps", "incident"}
	compensationRoots = []string{"inputs", "event", "steps", "incident", "params", "outputs"}
	triggerRoots      = []string{"event"}
)

// exprCtx says where an expression sits: which names it may use and which
// step it belongs to (nil for triggers).
type exprCtx struct {
	roots        []string
	from         *stepInfo
	compensation bool
}

// chain is a member access with a static root, e.g. steps.x.outputs.y:
// root "steps", props [x outputs y]. Props stop at the first dynamic index.
type chain struct {
	root  string
	props []string
}

func (c chain) String() string {
	return strings.Join(append([]string{c.root}, c.props...), ".")
}

// disabledBuiltins says why ExprOptions turns builtins off. With undefined
// variables allowed, a call to one still compiles (and fails only when the
// step runs), so validation reports it.
var disabledBuiltins = map[string]string{
	"now":      "it reads the clock",
	"date":     "it reads the clock and local time zone",
	"timezone": "it reads the local time zone",
	"keys":     "it lists a map in random order",
	"values":   "it lists a map in random order",
	"toPairs":  "it lists a map in random order",
}

// parseConfig parses with the same options expressions compile with, so a
// disabled builtin shows up as a plain call.
var parseConfig = func() *conf.Config {
	c := conf.CreateNew()
	for _, opt := range ExprOptions() {
		opt(c)
	}
	return c
}()

// exprRefs is what an expression reads and calls.
type exprRefs struct {
	chains []chain
	calls  []string // functions called by name that are not builtins
}

// refChains returns the maximal member chains an expression reads.
func refChains(src string) ([]chain, error) {
	r, err := parseRefs(src)
	return r.chains, err
}

// parseRefs parses an expression and collects the maximal member chains it
// reads, walking the AST rather than matching text, so steps["x"].outputs
// and steps.x?.outputs count as well and strings that merely look like
// references do not.
func parseRefs(src string) (exprRefs, error) {
	var r exprRefs
	tree, err := parser.ParseWithConfig(src, parseConfig)
	if err != nil {
		return r, err
	}
	c := &chainCollector{inner: map[ast.Node]bool{}, local: map[string]bool{"$env": true}}
	ast.Walk(&tree.Node, c)
	for _, n := range c.nodes {
		if c.inner[n] {
			continue
		}
		if ch, ok := chainOf(n); ok && !c.local[ch.root] {
			r.chains = append(r.chains, ch)
		}
	}
	for _, name := range c.calls {
		if !c.local[name] {
			r.calls = append(r.calls, name)
		}
	}
	return r, nil
}

type chainCollector struct {
	nodes []ast.Node
	calls []string
	inner map[ast.Node]bool // nodes that are the base of a longer chain
	local map[string]bool   // let-bound names
}

func (c *chainCollector) Visit(n *ast.Node) {
	switch t := (*n).(type) {
	case *ast.CallNode:
		if id, ok := t.Callee.(*ast.IdentifierNode); ok {
			c.inner[id] = true
			c.calls = append(c.calls, id.Value)
		}
	case *ast.IdentifierNode:
		c.nodes = append(c.nodes, t)
	case *ast.MemberNode:
		c.nodes = append(c.nodes, t)
		c.inner[t.Node] = true
		if ch, ok := t.Node.(*ast.ChainNode); ok {
			c.inner[ch.Node] = true
		}
	case *ast.ChainNode:
		c.inner[t.Node] = true
		c.nodes = append(c.nodes, t)
	case *ast.VariableDeclaratorNode:
		c.local[t.Name] = true
	}
}

// chainOf follows a member access down to its root identifier.
func chainOf(n ast.Node) (chain, bool) {
	switch t := n.(type) {
	case *ast.IdentifierNode:
		return chain{root: t.Value}, true
	case *ast.ChainNode:
		return chainOf(t.Node)
	case *ast.MemberNode:
		base, ok := chainOf(t.Node)
		if !ok {
			return chain{}, false
		}
		if base.props != nil && base.props[len(base.props)-1] == "" {
			return base, true // already dynamic: later props are unknown
		}
		if s, ok := t.Property.(*ast.StringNode); ok {
			base.props = append(base.props, s.Value)
		} else {
			base.props = append(base.props, "") // dynamic index
		}
		return base, true
	}
	return chain{}, false
}

// hasTemplate reports whether a string holds a ${{ }} placeholder.
func hasTemplate(s string) bool { return strings.Contains(s, "${{") }

// walkTemplates checks every template string inside a params value.
func (v *checker) walkTemplates(val any, field string, ctx exprCtx) {
	switch t := val.(type) {
	case string:
		v.checkTemplates(t, field, ctx)
	case []any:
		for i, e := range t {
			v.walkTemplates(e, joinIndex(field, i), ctx)
		}
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v.walkTemplates(t[k], joinKey(field, k), ctx)
		}
	}
}

// checkTemplates checks each ${{ }} placeholder of a string.
func (v *checker) checkTemplates(s, field string, ctx exprCtx) {
	exprs := TemplateExprs(s)
	if strings.Count(s, "${{") != len(exprs) {
		v.at(field, "unterminated ${{ template (close it with }})")
	}
	for _, e := range exprs {
		v.checkExpr(e, field, ctx)
	}
}

// checkExpr compiles one expression and checks what it refers to.
func (v *checker) checkExpr(src, field string, ctx exprCtx) {
	if strings.TrimSpace(src) == "" {
		v.at(field, "empty expression")
		return
	}
	if err := CompileCheck(src); err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		v.at(field, "invalid expression %q: %s", src, msg)
		return
	}
	refs, err := parseRefs(src)
	if err != nil {
		v.at(field, "invalid expression %q: %v", src, err)
		return
	}
	seen := map[string]bool{}
	for _, name := range refs.calls {
		msg := fmt.Sprintf("unknown function %q", name)
		if why, ok := disabledBuiltins[name]; ok {
			msg = fmt.Sprintf("%s() is not allowed: %s, and runbook expressions must give the same result on workflow replay", name, why)
		}
		if !seen[msg] {
			seen[msg] = true
			v.at(field, "%s", msg)
		}
	}
	for _, c := range refs.chains {
		if msg := v.checkChain(c, ctx); msg != "" && !seen[msg] {
			seen[msg] = true
			v.at(field, "%s", msg)
		}
	}
}

// checkChain returns what is wrong with one reference, or "".
func (v *checker) checkChain(c chain, ctx exprCtx) string {
	if !contains(ctx.roots, c.root) {
		return fmt.Sprintf("unknown name %q%s (available: %s)", c.root, didYouMean(c.root, ctx.roots), strings.Join(ctx.roots, ", "))
	}
	if len(c.props) == 0 || c.props[0] == "" {
		return ""
	}
	switch c.root {
	case "inputs":
		if _, ok := v.inputs[c.props[0]]; !ok {
			return fmt.Sprintf("undeclared input %q%s", c.props[0], v.hint(c.props[0], v.inputNames, len(v.rb.Inputs)))
		}
	case "steps":
		return v.checkStepRef(c, ctx)
	case "outputs":
		if ctx.from != nil && ctx.from.spec != nil {
			return outputMismatch(*ctx.from.spec, ctx.from.step.ID, c.props[0])
		}
	}
	return ""
}

// checkStepRef enforces run order: a step may only read steps that have
// finished before it starts. Runbooks run top to bottom, so a forward or
// cyclic reference can never resolve, and members of one parallel group run
// concurrently, so they cannot read each other.
func (v *checker) checkStepRef(c chain, ctx exprCtx) string {
	id := c.props[0]
	target, ok := v.steps[id]
	if !ok {
		return fmt.Sprintf("reference to unknown step %q%s", id, v.stepHint(id))
	}
	from := ctx.from
	switch {
	case from == nil:
	case target == from || (from.step != nil && target.step == from.step):
		if !ctx.compensation {
			return fmt.Sprintf("step %q refers to itself", id)
		}
	case from.parent != "" && target.step.ID == from.parent:
		return fmt.Sprintf("reference to enclosing parallel group %q, which finishes after this step", id)
	case target.order > from.order || from.order < 0:
		return fmt.Sprintf("reference to later step %q (steps run in order)", id)
	case target.order == from.order && from.parent != "" && target.parent == from.parent:
		return fmt.Sprintf("reference to step %q of the same parallel group (they run concurrently)", id)
	case target.order == from.order && target.parent == from.step.ID:
		return fmt.Sprintf("reference to later step %q (it runs inside this group)", id)
	}
	if len(c.props) < 2 || c.props[1] == "" {
		return ""
	}
	switch c.props[1] {
	case "status":
		return ""
	case "outputs":
		if len(c.props) < 3 || c.props[2] == "" {
			return ""
		}
		switch target.step.Kind() {
		case StepParallel:
			return fmt.Sprintf("step %q is a parallel group and has no outputs", id)
		case StepAction:
			if target.spec != nil {
				return outputMismatch(*target.spec, id, c.props[2])
			}
		}
		return ""
	default:
		return fmt.Sprintf("steps.%s has no %q (use steps.%s.status or steps.%s.outputs.<name>)", id, c.props[1], id, id)
	}
}

// outputMismatch checks a name against an action's declared outputs; an
// action that declares none is not checked.
func outputMismatch(spec ActionSpec, stepID, name string) string {
	if len(spec.Outputs) == 0 || contains(spec.Outputs, name) {
		return ""
	}
	return fmt.Sprintf("step %q (%s) has no output %q%s (outputs: %s)", stepID, spec.Name, name,
		didYouMean(name, spec.Outputs), strings.Join(spec.Outputs, ", "))
}

// stepHint suggests a similar id; ids with '-' need index syntax because
// steps.a-b parses as steps.a minus b.
func (v *checker) stepHint(id string) string {
	if v.hintBudget < len(v.stepIDs) {
		return ""
	}
	for _, other := range v.stepIDs {
		if strings.HasPrefix(other, id+"-") {
			return fmt.Sprintf(" (for id %q write steps[%q])", other, other)
		}
	}
	return v.hint(id, func() []string { return v.stepIDs }, len(v.stepIDs))
}

func (v *checker) inputNames() []string {
	out := make([]string, 0, len(v.rb.Inputs))
	for _, in := range v.rb.Inputs {
		out = append(out, in.Name)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
