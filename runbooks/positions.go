package runbooks

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Source is a parsed runbook file: its bytes, the YAML node tree and the
// position of every field, so any finding can point at line:col.
type Source struct {
	File  string
	Bytes []byte
	// Root is the YAML document node.
	Root *yaml.Node
	// Hash is Hash(Bytes), the content hash that travels with the workflow.
	Hash string

	value any
	index map[string]nodePos
}

// nodePos is where one field's key and value sit in the file.
type nodePos struct {
	keyLine, keyCol int // the mapping key, or the sequence item itself
	line, col       int // the value
	collection      bool
}

// Pos returns the position for a field path such as steps[2].with.key_id or
// steps[1].parallel[0].action: the value for scalars (where the offending text
// is), the key for mappings and sequences (whose value starts on a later
// line). A path that does not exist falls back to its nearest existing parent
// (a missing param points at its step's `with:`). 0, 0 means unknown.
func (s *Source) Pos(fieldPath string) (line, col int) {
	p, ok := s.lookup(fieldPath)
	if !ok {
		return 0, 0
	}
	if p.collection && p.keyLine > 0 {
		return p.keyLine, p.keyCol
	}
	return p.line, p.col
}

// KeyPos returns the position of the field's key (of the item for sequence
// elements), falling back to parents like Pos.
func (s *Source) KeyPos(fieldPath string) (line, col int) {
	p, ok := s.lookup(fieldPath)
	if !ok {
		return 0, 0
	}
	if p.keyLine > 0 {
		return p.keyLine, p.keyCol
	}
	return p.line, p.col
}

// Has reports whether the field path exists in the document.
func (s *Source) Has(fieldPath string) bool {
	if s == nil {
		return false
	}
	_, ok := s.index[fieldPath]
	return ok
}

// Value is the document as JSON-compatible values (map[string]any, []any,
// string, bool, integers, float64, nil): what the JSON Schema validates.
func (s *Source) Value() any { return s.value }

func (s *Source) lookup(path string) (nodePos, bool) {
	if s == nil {
		return nodePos{}, false
	}
	for {
		if p, ok := s.index[path]; ok {
			return p, true
		}
		if path == "" {
			return nodePos{}, false
		}
		path = parentPath(path)
	}
}

// parentPath strips the last .key or [i] from a field path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// joinKey and joinIndex build field paths the way Pos expects them.
func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func joinIndex(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// maxNodes bounds how many nodes a document may expand to through aliases,
// so a "billion laughs" file cannot exhaust memory.
const maxNodes = 100000

// converter turns the YAML node tree into JSON-compatible values while
// recording positions; it reports what JSON cannot represent.
type converter struct {
	file     string
	index    map[string]nodePos
	problems []Problem
	budget   int
	// exhausted is set when the alias budget or the depth limit ran out:
	// the document is hostile or broken and nothing else about it is worth
	// reporting.
	exhausted bool
}

func (c *converter) problem(line, col int, field, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: c.file, Line: line, Col: col, Field: field, Message: fmt.Sprintf(format, args...)})
}

// convert turns node n (at field path, depth collections deep) into a JSON
// value.
func (c *converter) convert(n *yaml.Node, path string, keyLine, keyCol, depth int) any {
	if c.exhausted {
		return nil
	}
	c.budget--
	if c.budget < 0 {
		if !c.exhausted {
			c.exhausted = true
			c.problems = []Problem{{File: c.file, Line: n.Line, Col: n.Column, Field: path,
				Message: fmt.Sprintf("document expands to more than %d nodes (alias expansion?)", maxNodes)}}
		}
		return nil
	}
	pos := nodePos{keyLine: keyLine, keyCol: keyCol, line: n.Line, col: n.Column}
	target := n
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			c.problem(n.Line, n.Column, path, "unresolved alias")
			return nil
		}
		target = n.Alias
	}
	pos.collection = target.Kind == yaml.MappingNode || target.Kind == yaml.SequenceNode
	if pos.collection && depth >= MaxDepth {
		c.exhausted = true
		c.problems = []Problem{{File: c.file, Line: n.Line, Col: n.Column, Field: path,
			Message: fmt.Sprintf("nesting deeper than %d levels (MaxDepth); parallel groups cannot be nested and params this deep are not a runbook", MaxDepth)}}
		return nil
	}
	c.index[path] = pos
	switch target.Kind {
	case yaml.MappingNode:
		return c.mapping(target, path, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(target.Content))
		for i, item := range target.Content {
			out = append(out, c.convert(item, joinIndex(path, i), item.Line, item.Column, depth+1))
		}
		return out
	case yaml.ScalarNode:
		return c.scalar(target, path)
	case yaml.AliasNode:
		c.problem(n.Line, n.Column, path, "alias of an alias is not supported")
		return nil
	default:
		c.problem(n.Line, n.Column, path, "unsupported YAML node")
		return nil
	}
}

func (c *converter) mapping(n *yaml.Node, path string, depth int) any {
	out := make(map[string]any, len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			c.problem(k.Line, k.Column, path, "mapping keys must be plain strings")
			continue
		}
		if k.ShortTag() == "!!merge" {
			c.problem(k.Line, k.Column, path, "YAML merge keys (<<) are not supported; write the fields out")
			continue
		}
		child := joinKey(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			c.problem(k.Line, k.Column, child, "duplicate key %q (first at line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		out[k.Value] = c.convert(v, child, k.Line, k.Column, depth)
	}
	return out
}

func (c *converter) scalar(n *yaml.Node, path string) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!str", "!!timestamp":
		// Timestamps stay text: JSON has no time type and runbooks treat
		// dates as strings.
		return n.Value
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			c.problem(n.Line, n.Column, path, "%v", err)
			return nil
		}
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			c.problem(n.Line, n.Column, path, "%s is not a valid JSON number", n.Value)
			return nil
		}
		return v
	default:
		c.problem(n.Line, n.Column, path, "unsupported YAML tag %s", n.Tag)
		return nil
	}
}
