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
// The accepted case is the hot path of the trigger consumer: parsePlain
// takes a valid body in one pass. When it gives up, the token-by-token
// parser decides: it finds the first problem in document order and words
// the refusal as it always has (refused input is not what needs to be
// fast), and should it accept the body after all, its tree is used.
func parseStrict(body []byte) (any, error) {
	if v, ok := parsePlain(body); ok {
		return v, nil
	}
	return parseStrictTokens(body)
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
