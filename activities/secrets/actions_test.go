package secrets_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyresponse/runbook/activities"
	secretsact "github.com/keyresponse/runbook/activities/secrets"
	store "github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/runbooks"
)

const (
	oldValue = `{"api_key":"OLDKEY","secret":"old-secret-value-111"}`
	newValue = `{"api_key":"NEWKEY","secret":"new-secret-value-222"}`
)

func setup(t *testing.T) (*activities.Registry, store.Store, store.Ref, store.Ref) {
	t.Helper()
	s, err := store.OpenFile(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r1, _ := s.Put(ctx, "binance/bot-1/api", []byte(oldValue), map[string]string{"key_id": "OLDKEY"})
	r2, _ := s.Put(ctx, "binance/bot-1/api", []byte(newValue), map[string]string{"key_id": "NEWKEY"})
	reg, err := activities.NewRegistry(secretsact.Actions(secretsact.Deps{Store: s})...)
	if err != nil {
		t.Fatal(err)
	}
	return reg, s, r1, r2
}

func run(t *testing.T, reg *activities.Registry, action string, params map[string]any) (runbooks.ActionResult, error) {
	t.Helper()
	return reg.Run(context.Background(), runbooks.ActionRequest{IncidentID: "inc-1", StepID: "s1", Action: action, Params: params})
}

// noValues fails if an action result carries a secret value anywhere.
func noValues(t *testing.T, res runbooks.ActionResult) {
	t.Helper()
	b, _ := json.Marshal(res)
	for _, v := range []string{"old-secret-value-111", "new-secret-value-222"} {
		if strings.Contains(string(b), v) {
			t.Fatalf("result carries a secret: %s", b)
		}
	}
}

func TestDescribeAndFingerprintNeverReturnValues(t *testing.T) {
	reg, _, r1, r2 := setup(t)
	res, err := run(t, reg, "secrets.describe", map[string]any{"name": "binance/bot-1/api"})
	if err != nil {
		t.Fatal(err)
	}
	noValues(t, res)
	if res.Outputs["current_fingerprint"] != r2.Fingerprint || len(res.Outputs["versions"].([]any)) != 2 ||
		res.Outputs["current_ref"] != "binance/bot-1/api@2" {
		t.Fatalf("describe = %+v", res.Outputs)
	}
	res, err = run(t, reg, "secrets.fingerprint", map[string]any{"ref": "binance/bot-1/api@1"})
	if err != nil || res.Outputs["fingerprint"] != r1.Fingerprint || res.Outputs["current"] != false {
		t.Fatalf("fingerprint = %+v, %v", res.Outputs, err)
	}
	noValues(t, res)
	if _, err := run(t, reg, "secrets.describe", map[string]any{"name": "nope"}); activities.ErrorType(err) != activities.ErrNotFound {
		t.Fatalf("unknown secret: %v", err)
	}
}

func TestRollbackIsIdempotentAndCompensable(t *testing.T) {
	reg, s, r1, r2 := setup(t)
	ctx := context.Background()
	params := map[string]any{"name": "binance/bot-1/api", "fingerprint": r2.Fingerprint}
	res, err := run(t, reg, "secrets.rollback", params)
	if err != nil || res.Outputs["rolled_back"] != true || res.Outputs["fingerprint"] != r1.Fingerprint {
		t.Fatalf("rollback = %+v, %v", res.Outputs, err)
	}
	noValues(t, res)
	if v, _ := s.Get(ctx, store.Ref{Name: "binance/bot-1/api"}); string(v) != oldValue {
		t.Fatalf("current after rollback = %q", v)
	}
	// A retry with the same request must not step back past version 1
	// (it would fail) nor change anything.
	again, err := run(t, reg, "secrets.rollback", params)
	if err != nil || again.Outputs["rolled_back"] != false || again.Outputs["fingerprint"] != r1.Fingerprint {
		t.Fatalf("retried rollback = %+v, %v", again.Outputs, err)
	}

	// The declared compensation (secrets.put from previous_ref) restores
	// the new key, and is itself idempotent.
	comp := map[string]any{"name": "binance/bot-1/api", "from_ref": res.Outputs["previous_ref"]}
	put, err := run(t, reg, "secrets.put", comp)
	if err != nil || put.Outputs["written"] != true || put.Outputs["fingerprint"] != r2.Fingerprint {
		t.Fatalf("compensating put = %+v, %v", put.Outputs, err)
	}
	noValues(t, put)
	if v, _ := s.Get(ctx, store.Ref{Name: "binance/bot-1/api"}); string(v) != newValue {
		t.Fatalf("current after compensation = %q", v)
	}
	if put2, err := run(t, reg, "secrets.put", comp); err != nil || put2.Outputs["written"] != false {
		t.Fatalf("repeated put = %+v, %v", put2.Outputs, err)
	}
	spec, _ := reg.Action("secrets.rollback")
	if spec.Compensation == nil || spec.Compensation.Action != "secrets.put" || spec.SideEffect != runbooks.Reversible {
		t.Fatalf("rollback spec = %+v", spec)
	}

	// No value-taking params anywhere: a runbook cannot hand a value in.
	for _, a := range reg.Actions() {
		for _, p := range a.Params {
			if p.Name == "value" || p.Name == "secret" {
				t.Errorf("%s takes a %q param", a.Name, p.Name)
			}
		}
	}
	if _, err := run(t, reg, "secrets.put", map[string]any{"name": "x", "from_ref": "binance/bot-1/api", "value": "literal"}); activities.ErrorType(err) != activities.ErrInvalidParams {
		t.Fatalf("put with a literal value: %v", err)
	}
	if _, err := run(t, reg, "secrets.rollback", map[string]any{"name": "binance/bot-1/api"}); activities.ErrorType(err) != activities.ErrInvalidParams {
		t.Fatalf("rollback without fingerprint: %v", err)
	}
}
