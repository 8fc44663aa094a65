package secrets

import (
	"context"
	"fmt"

	"github.com/keyresponse/runbook/activities"
	store "github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/runbooks"
)

// PutParams are secrets.put's params: a source reference, never a value.
type PutParams struct {
	Name    string `json:"name"`
	FromRef string `json:"from_ref"`
}

// Validate checks the params.
func (p *PutParams) Validate() error {
	if err := store.ValidName(p.Name); err != nil {
		return err
	}
	_, err := store.ParseRef(p.FromRef)
	return err
}

// PutSpec declares secrets.put.
var PutSpec = runbooks.ActionSpec{
	Name: "secrets.put",
	Description: "Copy the value of a stored secret (from_ref: name or name@version) into a new current version of " +
		"name: restore a known-good version, promote a staged credential, undo a rollback. It never takes a value: " +
		"values in runbooks, events or workflow inputs would end up in history and audit. Idempotent: if name's " +
		"current value already has the source's fingerprint, nothing is written.",
	Params: []runbooks.ParamSpec{nameParam,
		{Name: "from_ref", Type: runbooks.ParamString, Required: true, Description: "secret reference to copy from"}},
	Outputs:    []string{"name", "ref", "version", "fingerprint", "previous_fingerprint", "written"},
	SideEffect: runbooks.Reversible,
	Compensation: &runbooks.CompensationSpec{Action: "secrets.rollback", With: map[string]any{
		"name": "${{ params.name }}", "fingerprint": "${{ outputs.fingerprint }}",
	}},
	Needs: []string{"secrets.store"},
}

func put(d Deps) activities.Action {
	return activities.Typed(PutSpec, func(ctx context.Context, req runbooks.ActionRequest, p PutParams) (runbooks.ActionResult, error) {
		s, err := d.store()
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		from, _ := store.ParseRef(p.FromRef)
		value, err := s.Get(ctx, from)
		if err != nil {
			return runbooks.ActionResult{}, storeError(fmt.Errorf("secret %s: %w", p.FromRef, err))
		}
		fp := store.Fingerprint(value)
		out := map[string]any{"name": p.Name, "fingerprint": fp}
		vs, err := s.Versions(ctx, p.Name)
		if err != nil && !isNotFound(err) {
			return runbooks.ActionResult{}, storeError(err)
		}
		if cur, ok := current(vs); ok {
			out["previous_fingerprint"] = cur.Fingerprint
			if cur.Fingerprint == fp {
				out["ref"], out["version"], out["written"] = refString(p.Name, cur.Version), cur.Version, false
				return runbooks.ActionResult{Outputs: out,
					Summary: fmt.Sprintf("secret %s already holds %s (%s); nothing written", p.Name, p.FromRef, fp)}, nil
			}
		}
		ref, err := s.Put(ctx, p.Name, value, map[string]string{"copied_from": p.FromRef, "incident": req.IncidentID, "step": req.StepID})
		if err != nil {
			return runbooks.ActionResult{}, storeError(err)
		}
		out["ref"], out["version"], out["written"] = refString(p.Name, ref.Version), ref.Version, true
		return runbooks.ActionResult{Outputs: out,
			Summary: fmt.Sprintf("secret %s@%d copied from %s (%s)", p.Name, ref.Version, p.FromRef, fp)}, nil
	})
}
