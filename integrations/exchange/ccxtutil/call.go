package ccxtutil

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
)

// Await waits for a ccxt result channel under ctx. On cancellation the
// channel is drained in the background so ccxt's goroutine can finish.
func Await(ctx context.Context, ch <-chan interface{}) (interface{}, error) {
	select {
	case res := <-ch:
		if ccxt.IsError(res) {
			return nil, ccxt.CreateReturnError(res)
		}
		return res, nil
	case <-ctx.Done():
		go func() { <-ch }()
		return nil, ctx.Err()
	}
}

// Run calls a blocking ccxt method (the typed wrappers) under ctx.
func Run[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

var codeRE = regexp.MustCompile(`"(?:code|retCode|sCode)"\s*:\s*"?(-?\d+)"?`)

// ExchangeCode extracts the exchange's own error code from a ccxt error
// message (ccxt embeds the response body: `binance {"code":-2015,...}`).
func ExchangeCode(msg string) string {
	if m := codeRE.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

// Classify turns an error from a ccxt call into *exchange.Error.
// codeKinds overrides the kind for exchange codes ccxt does not map (or maps
// too coarsely); headers are the exchange's last response headers (for
// Retry-After). A nil err returns nil.
func Classify(name, op string, err error, headers interface{}, codeKinds map[string]exchange.Kind) error {
	if err == nil {
		return nil
	}
	var ee *exchange.Error
	if errors.As(err, &ee) {
		return err
	}
	out := &exchange.Error{Exchange: name, Op: op, Err: err}
	var ce *ccxt.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		out.Kind, out.Message = exchange.KindNetwork, err.Error()
	case errors.As(err, &ce):
		out.Kind = exchange.KindFromCCXT(string(ce.Type))
		out.Message = strings.TrimSpace(ce.Message)
		out.Code = ExchangeCode(ce.Message)
		if k, ok := codeKinds[out.Code]; ok && out.Code != "" {
			out.Kind = k
		}
		// Binding to a source address this host does not have is a
		// configuration error, not a transient network failure: retrying
		// would never help.
		if out.Kind == exchange.KindNetwork && strings.Contains(ce.Message, "cannot assign requested address") {
			out.Kind = exchange.KindInvalid
			out.Message = "local source address is not configured on this host: " + out.Message
		}
	default:
		out.Kind, out.Message = exchange.KindExchange, err.Error()
	}
	if out.Kind == exchange.KindRateLimited {
		out.RetryAfter = RetryAfter(headers)
	}
	return out
}

// RetryAfter reads a Retry-After header (seconds) from ccxt's header map.
func RetryAfter(headers interface{}) time.Duration {
	m, ok := headers.(map[string]interface{})
	if !ok {
		return 0
	}
	for k, v := range m {
		if !strings.EqualFold(k, "Retry-After") {
			continue
		}
		s, _ := v.(string)
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
	}
	return 0
}
