package ccxtutil

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Helpers over ccxt's parsed JSON (map[string]interface{} / []interface{},
// numbers as float64 or int64 depending on the path).

// Map returns v as a map, or nil.
func Map(v interface{}) map[string]interface{} {
	m, _ := v.(map[string]interface{})
	return m
}

// List returns v as a list; a map holding exactly one list value (an
// envelope like {"subAccountApis":[…]} or {"data":[…]}) yields that list.
func List(v interface{}) []interface{} {
	switch t := v.(type) {
	case []interface{}:
		return t
	case map[string]interface{}:
		var found []interface{}
		n := 0
		for _, x := range t {
			if l, ok := x.([]interface{}); ok {
				found, n = l, n+1
			}
		}
		if n == 1 {
			return found
		}
	}
	return nil
}

// Str returns m[k] as a string ("" when absent).
func Str(m map[string]interface{}, k string) string {
	switch v := m[k].(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// Bool returns m[k] as a bool, accepting true/"true"/1/"1".
func Bool(m map[string]interface{}, k string) bool {
	switch v := m[k].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true") || v == "1"
	case float64:
		return v != 0
	case int64:
		return v != 0
	case int:
		return v != 0
	}
	return false
}

// Int returns m[k] as an int64 (0 when absent or not a number).
func Int(m map[string]interface{}, k string) int64 {
	switch v := m[k].(type) {
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// Millis converts a millisecond timestamp to a time (zero for 0).
func Millis(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Strings returns m[k] as a list of strings (a JSON list or a comma list).
func Strings(m map[string]interface{}, k string) []string {
	var out []string
	switch v := m[k].(type) {
	case []interface{}:
		for _, x := range v {
			if s := strings.TrimSpace(fmt.Sprint(x)); s != "" {
				out = append(out, s)
			}
		}
	case []string:
		out = append(out, v...)
	case string:
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// FormatAmount renders an amount without exponent for request params.
func FormatAmount(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
