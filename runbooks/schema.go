package runbooks

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// SchemaJSON is the JSON Schema (draft 2020-12) of the runbook DSL. Shipped
// YAML files point editors at it with a yaml-language-server comment.
//
//go:embed schema/runbook.schema.json
var SchemaJSON []byte

const schemaURL = "file:///runbooks/schema/runbook.schema.json"

var (
	schemaOnce   sync.Once
	schemaCached *jsonschema.Schema
	schemaErr    error
	schemaFields []string // every property name the DSL knows, for suggestions
	printer      = message.NewPrinter(language.English)
)

// Schema returns the compiled runbook schema.
func Schema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON))
		if err != nil {
			schemaErr = fmt.Errorf("runbook schema: %w", err)
			return
		}
		schemaFields = propertyNames(doc)
		c := jsonschema.NewCompiler()
		if err := c.AddResource(schemaURL, doc); err != nil {
			schemaErr = fmt.Errorf("runbook schema: %w", err)
			return
		}
		schemaCached, schemaErr = c.Compile(schemaURL)
	})
	return schemaCached, schemaErr
}

// propertyNames collects the keys of every "properties" object in the schema.
func propertyNames(doc any) []string {
	set := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if props, ok := t["properties"].(map[string]any); ok {
				for k := range props {
					set[k] = true
				}
			}
			for _, c := range t {
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		}
	}
	walk(doc)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// schemaProblems validates the document against the schema and maps every
// error's instance location back to line:col. bad lists the fields whose
// value itself is wrong (a bad type, pattern or enum value), so a lenient
// decode can drop them and still run the semantic checks.
func schemaProblems(s *Source) (problems []Problem, bad [][]string) {
	sch, err := Schema()
	if err != nil {
		return []Problem{{File: s.File, Message: err.Error()}}, nil
	}
	err = sch.Validate(s.value)
	if err == nil {
		return nil, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Problem{{File: s.File, Message: err.Error()}}, nil
	}
	schemaLeaves(ve, func(e *jsonschema.ValidationError) {
		problems = append(problems, schemaProblem(s, e)...)
		switch e.ErrorKind.(type) {
		case *kind.Required, *kind.AdditionalProperties, *kind.OneOf, *kind.Not, *kind.MinItems:
		default:
			bad = append(bad, e.InstanceLocation)
		}
	})
	return problems, bad
}

// prune returns a deep copy of v without the values at the given JSON
// pointer token paths; list items become null so later indexes stay put.
func prune(v any, bad [][]string) any {
	v = deepCopy(v)
	for _, tokens := range bad {
		if len(tokens) == 0 {
			return nil
		}
		cur := v
		for i, t := range tokens {
			last := i == len(tokens)-1
			switch c := cur.(type) {
			case map[string]any:
				if last {
					delete(c, t)
				}
				cur = c[t]
			case []any:
				n, err := strconv.Atoi(t)
				if err != nil || n < 0 || n >= len(c) {
					cur = nil
					break
				}
				if last {
					c[n] = nil
				}
				cur = c[n]
			default:
				cur = nil
			}
			if cur == nil {
				break
			}
		}
	}
	return v
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

// schemaLeaves calls fn for the errors worth showing: the leaves, except
// that a step's oneOf and a nested group's not are reported as one
// readable finding instead of their technical causes.
func schemaLeaves(e *jsonschema.ValidationError, fn func(*jsonschema.ValidationError)) {
	switch e.ErrorKind.(type) {
	case *kind.OneOf, *kind.Not:
		fn(e)
		return
	}
	if len(e.Causes) == 0 {
		fn(e)
		return
	}
	for _, c := range e.Causes {
		schemaLeaves(c, fn)
	}
}

func schemaProblem(s *Source, e *jsonschema.ValidationError) []Problem {
	field := instancePath(s.value, e.InstanceLocation)
	at := func(field, msg string, key bool) Problem {
		var line, col int
		if key {
			line, col = s.KeyPos(field)
		} else {
			line, col = s.Pos(field)
		}
		return Problem{File: s.File, Line: line, Col: col, Field: field, Message: msg}
	}
	_, frag, _ := strings.Cut(e.SchemaURL, "#")
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		var out []Problem
		for _, name := range k.Properties {
			out = append(out, at(joinKey(field, name), fmt.Sprintf("unknown field %q%s", name, didYouMean(name, schemaFields)), true))
		}
		return out
	case *kind.Required:
		var out []Problem
		for _, name := range k.Missing {
			out = append(out, at(field, fmt.Sprintf("missing required field %q", name), true))
		}
		return out
	case *kind.OneOf:
		if len(k.Subschemas) == 0 {
			return []Problem{at(field, "a step needs one of action, parallel or approval", true)}
		}
		return []Problem{at(field, "a step has exactly one of action, parallel or approval", true)}
	case *kind.Not:
		return []Problem{at(field, "parallel groups cannot be nested", true)}
	case *kind.Pattern:
		switch frag {
		case "/$defs/duration":
			return []Problem{at(field, fmt.Sprintf("invalid duration %q (use e.g. 30s, 5m, 2h, 30d)", k.Got), false)}
		case "/$defs/id":
			return []Problem{at(field, fmt.Sprintf("invalid id %q: use lowercase letters, digits, _ and -, starting with a letter", k.Got), false)}
		case "/$defs/inputName":
			return []Problem{at(field, fmt.Sprintf("invalid input name %q: use lowercase letters, digits and _, starting with a letter", k.Got), false)}
		case "/$defs/name":
			return []Problem{at(field, fmt.Sprintf("invalid runbook name %q: use kebab-case, e.g. contain-key-breach", k.Got), false)}
		}
	case *kind.Minimum:
		return []Problem{at(field, fmt.Sprintf("must be at least %s, got %s", ratString(k.Want), ratString(k.Got)), false)}
	case *kind.Maximum:
		return []Problem{at(field, fmt.Sprintf("must be at most %s, got %s", ratString(k.Want), ratString(k.Got)), false)}
	case *kind.MinItems:
		return []Problem{at(field, fmt.Sprintf("needs at least %d item(s)", k.Want), true)}
	case *kind.MinLength:
		return []Problem{at(field, "must not be empty", false)}
	case *kind.Type:
		msg := fmt.Sprintf("must be %s, not %s", strings.Join(k.Want, " or "), k.Got)
		if len(k.Want) == 1 && k.Want[0] == "string" && k.Got != "object" && k.Got != "array" && k.Got != "null" {
			msg += " (quote it)" // version: 1 is a number to YAML
		}
		return []Problem{at(field, msg, false)}
	}
	return []Problem{at(field, e.ErrorKind.LocalizedString(printer), false)}
}

// instancePath turns a JSON pointer's tokens into a field path, writing
// array positions as [i] (a token is an index only where the value is a
// list: a params key may well be "2"). It builds the path in one buffer:
// joining token by token copied the prefix each time, and with a finding at
// every level of a deep document that was cubic in the depth.
func instancePath(root any, tokens []string) string {
	var b strings.Builder
	cur := root
	key := func(t string) {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t)
	}
	for _, t := range tokens {
		switch v := cur.(type) {
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(v) {
				key(t)
				return b.String()
			}
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(i))
			b.WriteByte(']')
			cur = v[i]
		case map[string]any:
			key(t)
			cur = v[t]
		default:
			key(t)
			cur = nil
		}
	}
	return b.String()
}

func ratString(r *big.Rat) string {
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'f', -1, 64)
}
