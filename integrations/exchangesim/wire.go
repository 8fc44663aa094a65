package exchangesim

import (
	"encoding/json"
	"strconv"
	"time"
)

// Helpers the dialects share for what every exchange's wire format needs.

// Str returns m[k] as the string an exchange would have sent: strings as
// they are, numbers without exponent or trailing zeros, absent as "", and
// anything else as its JSON text.
func Str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// RetryAfterSeconds is d as a Retry-After header value: whole seconds,
// rounded up so a client that waits that long is never early.
func RetryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}
