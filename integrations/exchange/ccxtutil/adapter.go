package ccxtutil

import (
	"time"

	"github.com/keyresponse/runbook/integrations/exchange"
)

// defaultTimeout bounds one HTTP request when the config names none.
const defaultTimeout = 30 * time.Second

// Timeout reads the adapter's per-request timeout from the "timeout_ms"
// option: a float64 from JSON, an int from YAML or Go; absent or not
// positive means 30 s.
func Timeout(opts map[string]interface{}) time.Duration {
	var d time.Duration
	switch v := opts["timeout_ms"].(type) {
	case float64:
		d = time.Duration(v) * time.Millisecond
	case int:
		d = time.Duration(v) * time.Millisecond
	}
	if d <= 0 {
		return defaultTimeout
	}
	return d
}

// NeedManagement refuses key management without a management credential
// before any request is made.
func NeedManagement(name string, cfg exchange.Config) error {
	if cfg.Management.Empty() {
		return &exchange.Error{Kind: exchange.KindInvalid, Exchange: name, Op: "management",
			Message: "no management credential configured"}
	}
	return nil
}
