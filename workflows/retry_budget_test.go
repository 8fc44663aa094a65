package workflows

import (
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
)

// A local step's attempts must fit its retry policy the way a remote
// step's do: the budget covers every attempt's timeout plus the backoffs.
func TestRetryBudgetCoversEveryAttempt(t *testing.T) {
	rp := &temporal.RetryPolicy{InitialInterval: 50 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 200 * time.Millisecond, MaximumAttempts: 4}
	// 4 × 10s + 50ms + 100ms + 200ms
	if got, want := retryBudget(10*time.Second, rp), 40*time.Second+350*time.Millisecond; got != want {
		t.Fatalf("budget %s, want %s", got, want)
	}
	if got := retryBudget(10*time.Second, &temporal.RetryPolicy{MaximumAttempts: 1}); got != 10*time.Second {
		t.Fatalf("one attempt: %s, want its timeout", got)
	}
	if got := retryBudget(10*time.Second, &temporal.RetryPolicy{}); got != 24*time.Hour {
		t.Fatalf("unlimited attempts: %s, want the 24h ceiling", got)
	}
}
