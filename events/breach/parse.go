package breach

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 32

// parseStrict decodes exactly one JSON value into map[string]any / []any /
// string / json.Number / bool / nil. Unlike encoding/json it refuses
// duplicate object keys (two parsers could disagree on which one wins, and
// the signature must cover what the consumer acts on), nesting deeper than
// maxDepth and anything after the value.
//
// The accepted case is the hot path of the trigger consumer. Most events
// are plain (no string escapes): parsePlain takes them in one pass. The
// rest takes two cheap passes instead of a token walk: json.Decoder.Decode
// builds the tree (merging duplicate keys, last wins), then structureOK
// counts the object members and the nesting in the raw bytes. A body has no
// duplicate key exactly when its member count equals the number of entries
// in the decoded maps. Any failure re-runs the token-by-token parser, which
// finds the first problem in document order and words the refusal as it
// always has; refused input is not what needs to be fast.
func parseStrict(body []byte) (any, error) {
	if v, ok := parsePlain(body); ok {
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err == nil && onlySpace(body[dec.InputOffset():]) {
		if members, ok := structureOK(body); ok && members == entries(v) {
			return v, nil
		}
	}
	v, err := parseStrictTokens(body)
	if err == nil {
		// The fast path and the token walk disagree: refuse rather than
		// guess which one is right.
		return nil, errors.New("ambiguous JSON structure")
	}
	return nil, err
}

// onlySpace reports whether b is JSON whitespace only.
func onlySpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// structureOK scans syntactically valid JSON and returns the number of
// object members (every ':' outside a string separates one) and whether no
// value sits deeper than maxDepth containers. A value at depth d starts
// with a byte other than whitespace, ',', ':' or a closing bracket while d
// containers are open; a key always comes with a value, so a key counts
// too.
func structureOK(b []byte) (members int, ok bool) {
	open := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r', ',':
		case ':':
			members++
		case '}', ']':
			open--
		case '"':
			if open > maxDepth {
				return 0, false
			}
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++ // the escaped byte cannot end the string
				}
			}
		case '{', '[':
			if open > maxDepth {
				return 0, false
			}
			open++
		default: // number, true, false, null
			if open > maxDepth {
				return 0, false
			}
		}
	}
	return members, true
}

// entries counts the members of every object in a decoded tree.
func entries(v any) int {
	switch t := v.(type) {
	case map[string]any:
		n := len(t)
		for _, x := range t {
			n += entries(x)
		}
		return n
	case []any:
		n := 0
		for _, x := range t {
			n += entries(x)
		}
		return n
	}
	return 0
}

// parseStrictTokens is the reference strict parser: one json.Decoder token
// at a time, refusing at the first duplicate key, excess depth or syntax
// error in document order.
func parseStrictTokens(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func parseValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("unexpected end of input")
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("object key is not a string")
				}
				if _, dup := obj[k]; dup {
					return nil, fmt.Errorf("duplicate key %q", truncate(k, 64))
				}
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj[k] = v
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return arr, nil
		default:
			return nil, fmt.Errorf("unexpected %q", t)
		}
	default:
		return t, nil // string, json.Number, bool, nil
	}
}
