package runbooks

import "sort"

// mapCatalog is a Catalog over a fixed list of specs.
type mapCatalog map[string]ActionSpec

func (m mapCatalog) Action(name string) (ActionSpec, bool) {
	s, ok := m[name]
	return s, ok
}

func (m mapCatalog) Actions() []ActionSpec {
	out := make([]ActionSpec, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// genericCatalog holds only the three generic actions the shipped demo
// runbooks may use, with the specs the lead's activities declare.
func genericCatalog() mapCatalog {
	all := testCatalog()
	m := mapCatalog{}
	for _, name := range []string{"core.wait", "notify.console", "http.request"} {
		m[name] = all[name]
	}
	return m
}

// testCatalog holds the three generic actions the shipped demo runbooks use,
// declared as activities/core and activities/httpreq declare them, plus an exchange action
// with a compensation for the semantic checks.
func testCatalog() mapCatalog {
	specs := []ActionSpec{
		{
			Name:       "core.wait",
			Params:     []ParamSpec{{Name: "duration", Type: ParamDuration, Required: true}},
			Outputs:    []string{"waited"},
			SideEffect: ReadOnly,
		},
		{
			Name: "notify.console",
			Params: []ParamSpec{
				{Name: "message", Type: ParamString, Required: true},
				{Name: "level", Type: ParamString, Default: "info", Enum: []string{"info", "warn", "error"}},
			},
			Outputs:    []string{"printed"},
			SideEffect: ReadOnly,
		},
		{
			Name: "http.request",
			Params: []ParamSpec{
				{Name: "method", Type: ParamString, Default: "GET", Enum: []string{"GET", "POST", "PUT", "DELETE"}},
				{Name: "url", Type: ParamString, Required: true},
				{Name: "headers", Type: ParamMap},
				{Name: "body", Type: ParamString},
				{Name: "expect_status", Type: ParamInt, Default: 200},
			},
			Outputs:    []string{"status", "body"},
			SideEffect: Irreversible,
		},
		{
			Name: "exchange.revoke_key",
			Params: []ParamSpec{
				{Name: "bot", Type: ParamString, Required: true},
				{Name: "key_id", Type: ParamString, Required: true},
			},
			Outputs:    []string{"revoked_at"},
			SideEffect: Irreversible,
		},
		{
			Name:         "exchange.freeze_bot",
			Params:       []ParamSpec{{Name: "bot", Type: ParamString, Required: true}},
			Outputs:      []string{"frozen"},
			SideEffect:   Reversible,
			Compensation: &CompensationSpec{Action: "exchange.unfreeze_bot", With: map[string]any{"bot": "${{ params.bot }}"}},
		},
		{
			Name: "test.types",
			Params: []ParamSpec{
				{Name: "count", Type: ParamInt},
				{Name: "ratio", Type: ParamNumber},
				{Name: "flag", Type: ParamBool},
				{Name: "period", Type: ParamDuration},
				{Name: "names", Type: ParamList},
				{Name: "anything", Type: ParamAny},
				{Name: "colour", Type: ParamString, Enum: []string{"red", "green"}},
				{Name: "amount", Type: ParamInt},
			},
			SideEffect: ReadOnly,
		},
		{
			Name:       "exchange.unfreeze_bot",
			Params:     []ParamSpec{{Name: "bot", Type: ParamString, Required: true}},
			SideEffect: Reversible,
		},
	}
	m := mapCatalog{}
	for _, s := range specs {
		m[s.Name] = s
	}
	return m
}
