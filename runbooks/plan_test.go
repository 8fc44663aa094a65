package runbooks

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func planValid(t *testing.T, given map[string]string) []PlannedStep {
	t.Helper()
	rb, _, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := ResolveInputs(rb, given)
	if err != nil {
		t.Fatal(err)
	}
	event := map[string]any{"data": map[string]any{"key_id": "K1", "severity": "critical"}}
	steps, err := Plan(rb, testCatalog(), inputs, event)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return steps
}

func TestPlan(t *testing.T) {
	steps := planValid(t, map[string]string{"bot": "alpha"})
	byID := map[string]PlannedStep{}
	var order []string
	for _, s := range steps {
		byID[s.ID] = s
		order = append(order, s.ID)
	}
	if want := []string{"freeze", "tell", "tell_console", "tell_hook", "gate", "revoke"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("order = %v, want %v", order, want)
	}

	freeze := byID["freeze"]
	if freeze.Kind != StepAction || freeze.SideEffect != Reversible || freeze.OnFailure != OnFailureCompensate ||
		freeze.WillRun != WhenTrue || freeze.Timeout.D() != 2*time.Minute || freeze.Retry.MaxAttempts != 5 {
		t.Errorf("freeze = %+v", freeze)
	}
	if !reflect.DeepEqual(freeze.Params, map[string]any{"bot": "alpha"}) {
		t.Errorf("freeze params = %v", freeze.Params)
	}
	if freeze.Compensation == nil || freeze.Compensation.Action != "exchange.unfreeze_bot" || freeze.CompensationFrom != "action" {
		t.Errorf("freeze compensation = %+v from %q", freeze.Compensation, freeze.CompensationFrom)
	}

	if g := byID["tell"]; g.Kind != StepParallel || g.Parent != "" || g.OnFailure != OnFailureAbort {
		t.Errorf("tell = %+v", g)
	}
	console := byID["tell_console"]
	if console.Parent != "tell" || console.SideEffect != ReadOnly {
		t.Errorf("tell_console = %+v", console)
	}
	// A step output is unknown before the run: it shows as a placeholder.
	if want := map[string]any{"message": "froze alpha: <steps.freeze.outputs.frozen>", "level": "warn"}; !reflect.DeepEqual(console.Params, want) {
		t.Errorf("tell_console params = %#v", console.Params)
	}
	hook := byID["tell_hook"]
	wantHook := map[string]any{"method": "POST", "url": "http://127.0.0.1:9/hook", "headers": map[string]any{"X-Bot": "alpha"}, "expect_status": 204.0}
	if !reflect.DeepEqual(hook.Params, wantHook) || hook.WillRun != WhenTrue || hook.SideEffect != Irreversible {
		t.Errorf("tell_hook = %+v", hook)
	}

	gate := byID["gate"]
	wantGate := Approval{Group: "oncall", Message: "Revoke the key of alpha?", Timeout: Duration(10 * time.Minute), OnTimeout: OnTimeoutSkip}
	if gate.Kind != StepApproval || gate.Approval == nil || *gate.Approval != wantGate {
		t.Errorf("gate = %+v", gate.Approval)
	}

	revoke := byID["revoke"]
	if revoke.WillRun != WhenUnknown || revoke.OnFailure != OnFailureContinue {
		t.Errorf("revoke = %+v", revoke)
	}
	if want := map[string]any{"bot": "alpha", "key_id": "K1"}; !reflect.DeepEqual(revoke.Params, want) {
		t.Errorf("revoke params = %v", revoke.Params)
	}
	if revoke.Compensation == nil || revoke.Compensation.Action != "notify.console" || revoke.CompensationFrom != "step" {
		t.Errorf("revoke compensation = %+v", revoke.Compensation)
	}
}

func TestPlanConditions(t *testing.T) {
	steps := planValid(t, map[string]string{"bot": "alpha", "dry": "true"})
	for _, s := range steps {
		if s.ID == "tell_hook" && s.WillRun != WhenFalse {
			t.Errorf("tell_hook with dry=true: WillRun = %s, want false", s.WillRun)
		}
	}
	tests := []struct {
		parent, child, want WhenResult
	}{
		{WhenTrue, WhenTrue, WhenTrue},
		{WhenFalse, WhenUnknown, WhenFalse},
		{WhenUnknown, WhenTrue, WhenUnknown},
		{WhenTrue, WhenFalse, WhenFalse},
	}
	for _, tc := range tests {
		if got := andWhen(tc.parent, tc.child); got != tc.want {
			t.Errorf("andWhen(%s, %s) = %s, want %s", tc.parent, tc.child, got, tc.want)
		}
	}
}

// A template that fails to evaluate is the failure the real run would hit:
// the plan is still complete, the step carries the error and Plan says so.
func TestPlanReportsEvaluationErrors(t *testing.T) {
	src := `name: broken
inputs:
  - name: n
    type: number
    default: 2
steps:
  - id: a
    action: notify.console
    when: inputs.n
    with: {message: "${{ inputs.n / 'x' }}"}
  - id: b
    action: notify.console
    with: {message: fine}
`
	rb, _, err := Parse("b.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := ResolveInputs(rb, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := Plan(rb, testCatalog(), inputs, nil)
	if err == nil || !strings.Contains(err.Error(), "step a:") {
		t.Fatalf("Plan error = %v, want one naming step a", err)
	}
	if len(steps) != 2 || steps[0].Error == "" || steps[1].Error != "" {
		t.Fatalf("steps = %+v", steps)
	}
	if !strings.Contains(steps[0].Error, "when:") || !strings.Contains(steps[0].Error, "with.message:") {
		t.Errorf("step a error = %q, want both the condition and the param", steps[0].Error)
	}
}

func TestFormatPlanDemoApproval(t *testing.T) {
	sh, ok := FindShipped("demo-approval")
	if !ok {
		t.Fatal("demo-approval not shipped")
	}
	rb, _, err := Parse(sh.File, sh.Src)
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := ResolveInputs(rb, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := Plan(rb, genericCatalog(), inputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := FormatPlan(&b, steps); err != nil {
		t.Fatal(err)
	}
	want := `1. announce (Tell everyone at once): parallel group
     on failure: abort
   1.1 notify_oncall: action notify.console [read-only]
        with level = "info"
        with message = "incident opened for bot demo-bot"
        on failure: abort
   1.2 notify_audit: action notify.console [read-only]
        with level = "info"
        with message = "audit: demo-approval started for demo-bot"
        on failure: abort
2. escalate (Escalate production bots only): action notify.console [read-only] — SKIPPED (when is false)
     when: inputs.bot startsWith "prod-" => false
     with level = "warn"
     with message = "production bot demo-bot: paging the security lead"
     on failure: abort
3. gate: approval by oncall
     message: Finish the demo incident for demo-bot?
     timeout: 10m, then abort
4. done: action notify.console [read-only]
     with level = "info"
     with message = "approved; demo finished for demo-bot (on-call notice: <steps.notify_oncall.status>)"
     on failure: abort
`
	if got := b.String(); got != want {
		t.Errorf("FormatPlan:\n%s\nwant:\n%s", got, want)
	}

	// A production bot takes the escalation branch.
	inputs, _ = ResolveInputs(rb, map[string]string{"bot": "prod-7"})
	steps, _ = Plan(rb, genericCatalog(), inputs, nil)
	if steps[3].ID != "escalate" || steps[3].WillRun != WhenTrue {
		t.Errorf("escalate for prod-7 = %+v", steps[3])
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Minute:          "10m",
		90 * time.Minute:          "1h30m",
		2 * time.Hour:             "2h",
		30 * 24 * time.Hour:       "30d",
		100 * time.Millisecond:    "100ms",
		time.Minute + time.Second: "1m1s",
	} {
		if got := shortDuration(Duration(d)); got != want {
			t.Errorf("shortDuration(%v) = %s, want %s", d, got, want)
		}
	}
}

// A compensation renders over the undone step's params and outputs.
func TestRenderCompensation(t *testing.T) {
	spec := testCatalog()["exchange.freeze_bot"].Compensation
	got, err := RenderParams(spec.With, Scope{Params: map[string]any{"bot": "alpha"}, Outputs: map[string]any{"frozen": true}})
	if err != nil || !reflect.DeepEqual(got, map[string]any{"bot": "alpha"}) {
		t.Errorf("compensation params = %v, %v", got, err)
	}
}
