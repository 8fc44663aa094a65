package runbooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// ResolveInputs turns `--input k=v` strings into typed inputs: number and
// bool are parsed, a duration is checked and kept as its string, a list is
// comma separated, a map is a JSON object. Defaults fill what was not given.
// Unknown names, unparsable values and missing required inputs are all
// reported in one error.
func ResolveInputs(rb *Runbook, given map[string]string) (map[string]any, error) {
	values := make(map[string]any, len(given))
	for k, v := range given {
		values[k] = v
	}
	return resolve(rb, values)
}

// ResolveInputValues is ResolveInputs for typed values, e.g. rendered from a
// trigger event. A string is parsed as on the command line; other values
// must already have the declared type.
func ResolveInputValues(rb *Runbook, given map[string]any) (map[string]any, error) {
	return resolve(rb, given)
}

func resolve(rb *Runbook, given map[string]any) (map[string]any, error) {
	declared := map[string]Input{}
	var names []string
	for _, in := range rb.Inputs {
		declared[in.Name] = in
		names = append(names, in.Name)
	}
	var errs []error
	keys := make([]string, 0, len(given))
	for k := range given {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := map[string]any{}
	for _, k := range keys {
		in, ok := declared[k]
		if !ok {
			list := "none"
			if len(names) > 0 {
				list = strings.Join(names, ", ")
			}
			errs = append(errs, fmt.Errorf("unknown input %q%s (runbook %s declares: %s)", k, didYouMean(k, names), rb.Name, list))
			continue
		}
		v, err := coerceInput(in, given[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("input %q: %w", k, err))
			continue
		}
		out[k] = v
	}
	var missing []string
	for _, in := range rb.Inputs {
		if _, ok := out[in.Name]; ok {
			continue
		}
		if _, failed := given[in.Name]; failed {
			continue // already reported
		}
		if in.Default != nil {
			v, err := coerceInput(in, in.Default)
			if err != nil {
				errs = append(errs, fmt.Errorf("input %q: default: %w", in.Name, err))
				continue
			}
			out[in.Name] = v
		} else if in.Required {
			missing = append(missing, in.Name)
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("missing required input(s) %s: pass %s", strings.Join(missing, ", "), inputUsage(missing, declared)))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func inputUsage(missing []string, declared map[string]Input) string {
	parts := make([]string, len(missing))
	for i, m := range missing {
		parts[i] = fmt.Sprintf("--input %s=<%s>", m, declared[m].Type)
	}
	return strings.Join(parts, " ")
}

// coerceInput checks v against the input's type and returns it in the form
// templates see: float64 numbers, []any lists, map[string]any maps,
// durations as strings.
func coerceInput(in Input, v any) (any, error) {
	if s, ok := v.(string); ok {
		return parseInput(in.Type, s)
	}
	switch in.Type {
	case InputString:
		switch t := v.(type) {
		case float64:
			return strconv.FormatFloat(t, 'f', -1, 64), nil
		case bool:
			return strconv.FormatBool(t), nil
		}
	case InputNumber:
		if f, ok := toFloat(v); ok {
			return f, nil
		}
	case InputBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case InputList:
		switch t := v.(type) {
		case []any:
			return t, nil
		case []string:
			out := make([]any, len(t))
			for i, s := range t {
				out[i] = s
			}
			return out, nil
		}
	case InputMap:
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
	}
	return nil, fmt.Errorf("want %s, got %s", in.Type, describe(v))
}

// parseInput parses the command-line form of an input value.
func parseInput(t InputType, s string) (any, error) {
	switch t {
	case InputNumber:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	case InputBool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a bool (use true or false)", s)
		}
		return b, nil
	case InputDuration:
		if _, err := ParseDuration(s); err != nil {
			return nil, err
		}
		return strings.TrimSpace(s), nil
	case InputList:
		out := []any{}
		for _, part := range strings.Split(s, ",") {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	case InputMap:
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
			return nil, fmt.Errorf("want a JSON object like {\"k\":\"v\"}, got %q", s)
		}
		return m, nil
	default:
		return s, nil
	}
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case float32:
		return float64(t), true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case int32:
		return float64(t), true
	case uint64:
		return float64(t), true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	}
	return 0, false
}
