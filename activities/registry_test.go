package activities_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/runbooks"
)

type echoParams struct {
	Bot   string `json:"bot"`
	Count int    `json:"count"`
}

func echoAction(name string, se runbooks.SideEffect) activities.Action {
	spec := runbooks.ActionSpec{
		Name:       name,
		SideEffect: se,
		Params: []runbooks.ParamSpec{
			{Name: "bot", Type: runbooks.ParamString, Required: true},
			{Name: "count", Type: runbooks.ParamInt, Default: 3},
		},
		Compensation: &runbooks.CompensationSpec{Action: "test.undo"},
	}
	return activities.Typed(spec, func(ctx context.Context, req runbooks.ActionRequest, p echoParams) (runbooks.ActionResult, error) {
		return runbooks.ActionResult{Outputs: map[string]any{"bot": p.Bot, "count": p.Count}}, nil
	})
}

func TestRegistryRejectsBadWiring(t *testing.T) {
	if _, err := activities.NewRegistry(echoAction("a.b", runbooks.ReadOnly), echoAction("a.b", runbooks.ReadOnly)); err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Errorf("duplicate name: err = %v", err)
	}
	if _, err := activities.NewRegistry(echoAction("a.c", "sometimes")); err == nil || !strings.Contains(err.Error(), "side effect") {
		t.Errorf("bad side effect: err = %v", err)
	}
}

func TestTypedParamsDefaultsAndStrictness(t *testing.T) {
	reg, err := activities.NewRegistry(echoAction("test.echo", runbooks.Reversible))
	if err != nil {
		t.Fatal(err)
	}
	res, err := reg.Run(context.Background(), runbooks.ActionRequest{Action: "test.echo", Params: map[string]any{"bot": "b1"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["count"] != 3 || res.Outputs["bot"] != "b1" {
		t.Errorf("outputs %v: want the default count 3 and bot b1", res.Outputs)
	}
	for name, params := range map[string]map[string]any{
		"missing required": {},
		"unknown param":    {"bot": "b1", "colour": "red"},
		"wrong type":       {"bot": "b1", "count": "many"},
	} {
		_, err := reg.Run(context.Background(), runbooks.ActionRequest{Action: "test.echo", Params: params})
		if activities.ErrorType(err) != activities.ErrInvalidParams {
			t.Errorf("%s: error type %q (%v), want InvalidParams", name, activities.ErrorType(err), err)
		}
	}
	if _, err := reg.Run(context.Background(), runbooks.ActionRequest{Action: "nope"}); activities.ErrorType(err) != activities.ErrInvalidParams {
		t.Errorf("unknown action: %v", err)
	}
}

func TestRegistryIsACatalog(t *testing.T) {
	reg, _ := activities.NewRegistry(echoAction("z.last", runbooks.Irreversible), echoAction("a.first", runbooks.ReadOnly))
	var cat runbooks.Catalog = reg
	specs := cat.Actions()
	if len(specs) != 2 || specs[0].Name != "a.first" {
		t.Errorf("Actions() = %v, want sorted by name", specs)
	}
	meta := reg.Meta([]string{"z.last", "missing"})
	if meta["z.last"].SideEffect != runbooks.Irreversible || meta["z.last"].Compensation.Action != "test.undo" {
		t.Errorf("Meta = %+v", meta)
	}
	if _, ok := meta["missing"]; ok {
		t.Error("Meta invented an unknown action")
	}
}
