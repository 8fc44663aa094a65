package runbooks

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one finding about a runbook file, positioned so editors and
// terminals can jump to it.
type Problem struct {
	File string `json:"file"`
	// Line and Col are 1-based; 0 means the position is unknown (a YAML
	// syntax error only carries a line, for instance).
	Line int `json:"line"`
	Col  int `json:"col"`
	// Field is the path of the offending field, e.g. steps[2].action.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// String renders file:line:col: field: message, leaving out parts that are
// unknown rather than printing zeros.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is a list of problems usable as an error (Parse returns it).
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders by position and drops exact duplicates (the schema
// and the semantic checks may both notice the same thing).
func sortProblems(ps []Problem) []Problem {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Message < b.Message
	})
	out := ps[:0]
	for i, p := range ps {
		if i > 0 && p == ps[i-1] {
			continue
		}
		out = append(out, p)
	}
	return out
}
