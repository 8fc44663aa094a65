package runbooks

import (
	"fmt"
	"sort"
	"strings"
)

// checkTriggers checks each trigger's subject, condition and input mapping.
func (v *checker) checkTriggers() {
	ctx := exprCtx{roots: triggerRoots}
	for i, t := range v.rb.Triggers {
		path := joinIndex("triggers", i)
		if err := CheckSubjectPattern(t.Subject); err != nil {
			v.at(path+".subject", "%v", err)
		}
		if t.When != "" {
			v.checkExpr(t.When, path+".when", ctx)
		}
		if t.Dedup != "" {
			v.checkTemplates(t.Dedup, path+".dedup", ctx)
		}
		if f := t.Fleet; f != nil {
			if strings.TrimSpace(f.Runbook) == "" {
				v.at(path+".fleet.runbook", "fleet runbook name is empty")
			} else if f.Runbook == v.rb.Name {
				v.at(path+".fleet.runbook", "a runbook cannot be its own fleet runbook")
			}
			if f.MinBots < 2 {
				v.at(path+".fleet.min_bots", "min_bots is %d; a fleet is at least 2 bots", f.MinBots)
			}
		}
		names := make([]string, 0, len(t.Inputs))
		for k := range t.Inputs {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			field := joinKey(path+".inputs", k)
			if _, ok := v.inputs[k]; !ok {
				v.key(field, "trigger sets undeclared input %q%s", k, v.hint(k, v.inputNames, len(v.rb.Inputs)))
				continue
			}
			v.checkTemplates(t.Inputs[k], field, ctx)
		}
		for _, in := range v.rb.Inputs {
			if _, set := t.Inputs[in.Name]; in.Required && in.Default == nil && !set {
				v.key(path, "trigger does not set required input %q", in.Name)
			}
		}
	}
}

// CheckSubjectPattern checks a NATS subject pattern: dot-separated non-empty
// tokens without whitespace, where "*" matches one token and ">" (last token
// only) matches the rest.
func CheckSubjectPattern(subject string) error {
	if subject == "" {
		return fmt.Errorf("empty subject")
	}
	tokens := strings.Split(subject, ".")
	for i, tok := range tokens {
		switch {
		case tok == "":
			return fmt.Errorf("subject %q has an empty token", subject)
		case strings.ContainsAny(tok, " \t\r\n"):
			return fmt.Errorf("subject %q contains whitespace", subject)
		case tok == ">":
			if i != len(tokens)-1 {
				return fmt.Errorf("subject %q: '>' must be the last token", subject)
			}
		case tok == "*":
		case strings.ContainsAny(tok, "*>"):
			return fmt.Errorf("subject %q: wildcards must be whole tokens", subject)
		}
	}
	return nil
}
