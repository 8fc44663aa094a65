package ccxtutil

import (
	"testing"
	"time"
)

// A timeout written in YAML decodes as int, in JSON as float64: both count.
func TestTimeout(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]interface{}
		want time.Duration
	}{
		{nil, 30 * time.Second},
		{map[string]interface{}{"timeout_ms": float64(1500)}, 1500 * time.Millisecond},
		{map[string]interface{}{"timeout_ms": 2000}, 2 * time.Second},
		{map[string]interface{}{"timeout_ms": -1}, 30 * time.Second},
		{map[string]interface{}{"timeout_ms": "5000"}, 30 * time.Second},
	} {
		if got := Timeout(tc.opts); got != tc.want {
			t.Errorf("Timeout(%v) = %v, want %v", tc.opts, got, tc.want)
		}
	}
}
