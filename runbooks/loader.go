package runbooks

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Hash is the content hash of a runbook file's raw bytes ("sha256:<hex>"). It
// travels with the workflow input so history records exactly what ran.
func Hash(src []byte) string {
	sum := sha256.Sum256(src)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Load reads and parses a runbook file (see Parse).
func Load(path string) (*Runbook, *Source, error) {
	src, err := ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return Parse(path, src)
}

// Parse parses one runbook: YAML syntax, the JSON Schema (unknown fields,
// types, enums, durations, ids) and the typed decode. Any failure is a
// Problems error whose entries carry file:line:col. The Source is returned
// whenever the YAML itself was readable, so callers can map further findings
// to positions. Semantic checks that need the action catalog are Validate's.
func Parse(file string, src []byte) (*Runbook, *Source, error) {
	rb, s, problems := parse(file, src)
	if len(problems) > 0 {
		return nil, s, Problems(problems)
	}
	return rb, s, nil
}

// parse returns whatever it could build plus every problem found: rb is
// non-nil when the typed decode worked even if the schema complained, so
// Validate can still run the semantic checks.
func parse(file string, src []byte) (*Runbook, *Source, []Problem) {
	s, problems, ok := readSource(file, src)
	if !ok {
		return nil, s, sortProblems(problems)
	}
	schemaProbs, bad := schemaProblems(s)
	problems = append(problems, schemaProbs...)
	if len(problems) == 0 {
		rb, err := decode(s.value)
		if err != nil {
			problems = append(problems, Problem{File: file, Message: err.Error()})
		}
		return rb, s, sortProblems(problems)
	}
	// The file is invalid already; decode what is left without the bad
	// values so the semantic checks can still report everything else in one
	// pass. Failures here only repeat what the schema said.
	var rb *Runbook
	if v := prune(s.value, bad); decodable(v) {
		rb, _ = decode(v)
	}
	return rb, s, sortProblems(problems)
}

// decodable is true when the document is at least an object, so a partial
// decode for semantic checks makes sense.
func decodable(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// readSource parses the YAML and builds the position index. It returns a nil
// Source only when the text is not YAML at all; ok is false when there is
// nothing to validate further (no YAML, an empty file, an alias bomb).
func readSource(file string, src []byte) (s *Source, problems []Problem, ok bool) {
	if ps := sizeProblem(file, src); ps != nil {
		return nil, ps, false
	}
	doc, err := decodeYAML(src)
	if err != nil {
		p := Problem{File: file, Message: err.Error()}
		if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Message = m[2]
		}
		return nil, []Problem{p}, false
	}
	s = &Source{File: file, Bytes: src, Root: doc, Hash: Hash(src), index: map[string]nodePos{}}
	if doc == nil || len(doc.Content) == 0 {
		return s, []Problem{{File: file, Line: 1, Col: 1, Message: "empty runbook"}}, false
	}
	c := &converter{file: file, index: s.index, budget: maxNodes}
	s.value = c.convert(doc.Content[0], "", 0, 0, 0)
	if c.exhausted {
		return s, c.problems, false
	}
	return s, c.problems, true
}

// decodeYAML reads exactly one YAML document. yaml.v3 has panicked on
// malformed input in the past; a runbook file must never crash the CLI or
// worker, so a panic becomes an error.
func decodeYAML(src []byte) (doc *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("yaml: invalid document (%v)", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil || line == 0 {
			return nil, fmt.Errorf("yaml: a runbook file holds exactly one YAML document")
		}
		return nil, fmt.Errorf("yaml: line %d: a runbook file holds exactly one YAML document", line)
	}
	return &n, nil
}

// decode builds the typed Runbook from the JSON-compatible tree through
// encoding/json, so params hold exactly the value types (float64 numbers,
// []any, map[string]any) the workflow sees after Temporal's JSON round trip:
// what a dry run shows is what runs.
func decode(v any) (*Runbook, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("runbook: %w", err)
	}
	var rb Runbook
	if err := json.Unmarshal(b, &rb); err != nil {
		return nil, fmt.Errorf("runbook: %w", err)
	}
	return &rb, nil
}
