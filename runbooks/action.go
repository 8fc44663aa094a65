package runbooks

// ActionRequest is the input of every action activity. The activity type name
// is the action name (e.g. "exchange.revoke_key"). Params are already
// resolved (templates evaluated) and never contain secrets: actions take
// secret references and resolve them themselves.
type ActionRequest struct {
	IncidentID string         `json:"incident_id"`
	Runbook    string         `json:"runbook"`
	StepID     string         `json:"step_id"`
	Action     string         `json:"action"`
	Params     map[string]any `json:"params,omitempty"`
	// Compensation is true when the request undoes an earlier step.
	Compensation bool `json:"compensation,omitempty"`
}

// ActionResult is the output of every action activity. Outputs must never hold
// a secret (return a reference and a fingerprint instead).
type ActionResult struct {
	Outputs map[string]any `json:"outputs,omitempty"`
	// Attempt is the Temporal attempt number that produced this result.
	Attempt int32 `json:"attempt"`
	// Summary is one human line for timelines ("revoked key AK…3F on binance").
	Summary string `json:"summary,omitempty"`
}
