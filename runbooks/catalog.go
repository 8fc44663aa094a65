package runbooks

// SideEffect classifies what an action does to the world. Dry runs, approvals
// and blast-radius limits key off it.
type SideEffect string

const (
	ReadOnly     SideEffect = "read-only"    // observes only
	Reversible   SideEffect = "reversible"   // changes state that a compensation can undo
	Irreversible SideEffect = "irreversible" // cannot be undone (revoke a key, send an SMS)
)

// ParamType is the type of one action parameter.
type ParamType string

const (
	ParamString   ParamType = "string"
	ParamInt      ParamType = "int"
	ParamNumber   ParamType = "number"
	ParamBool     ParamType = "bool"
	ParamDuration ParamType = "duration"
	ParamList     ParamType = "list" // list of strings
	ParamMap      ParamType = "map"  // map of string to any
	ParamAny      ParamType = "any"
)

// ParamSpec declares one parameter of an action.
type ParamSpec struct {
	Name        string    `json:"name"`
	Type        ParamType `json:"type"`
	Required    bool      `json:"required,omitempty"`
	Default     any       `json:"default,omitempty"`
	Enum        []string  `json:"enum,omitempty"`
	Description string    `json:"description,omitempty"`
}

// CompensationSpec is an action's declared undo: another action whose params
// are templates over the original step's params (`params.bot`) and outputs
// (`outputs.key_id`).
type CompensationSpec struct {
	Action string         `json:"action"`
	With   map[string]any `json:"with,omitempty"`
}

// ActionSpec is what an action declares about itself (Falco Talon style):
// name, typed params, outputs, side-effect class, compensation, needs.
type ActionSpec struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Params      []ParamSpec `json:"params,omitempty"`
	// Outputs names the keys of the action's result (for template checks).
	Outputs      []string          `json:"outputs,omitempty"`
	SideEffect   SideEffect        `json:"side_effect"`
	Compensation *CompensationSpec `json:"compensation,omitempty"`
	// Needs lists what the action requires from the environment,
	// e.g. "exchange.management_credential", "secrets.store".
	Needs []string `json:"needs,omitempty"`
	// Example is a YAML snippet of a step using the action.
	Example string `json:"example,omitempty"`
	// Pages: the action tells people (notify.sms); see ActionMeta.Pages.
	Pages bool `json:"pages,omitempty"`
}

// Meta is the run-time part of the spec the workflow input carries. Every
// starter builds ActionMeta through it, so a new field reaches them all.
func (a ActionSpec) Meta() ActionMeta {
	return ActionMeta{SideEffect: a.SideEffect, Compensation: a.Compensation, Pages: a.Pages}
}

// Param returns the spec of the named parameter.
func (a ActionSpec) Param(name string) (ParamSpec, bool) {
	for _, p := range a.Params {
		if p.Name == name {
			return p, true
		}
	}
	return ParamSpec{}, false
}

// Catalog is the set of actions a runbook may use. activities.Registry
// implements it; validation and planning take it as an argument so this
// package needs no knowledge of the integrations.
type Catalog interface {
	Action(name string) (ActionSpec, bool)
	Actions() []ActionSpec
}

// ActionMeta is what the interpreter workflow needs to know about an action
// at run time; the starter resolves it from the catalog into the workflow input
// so the workflow never consults the registry.
type ActionMeta struct {
	SideEffect   SideEffect        `json:"side_effect"`
	Compensation *CompensationSpec `json:"compensation,omitempty"`
	// Pages: the action tells people (notify.sms). HoldIrreversible never
	// holds it: a held incident must still reach on-call.
	Pages bool `json:"pages,omitempty"`
}
