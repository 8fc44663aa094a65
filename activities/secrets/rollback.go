package secrets

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyresponse/runbook/activities"
	store "github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/runbooks"
)

// RollbackParams are secrets.rollback's params.
type RollbackParams struct {
	Name string `json:"name"`
	// Fingerprint is the fingerprint of the version to step back from.
	// It is what makes the action safe under retry: a second attempt
	// after a lost answer finds that version no longer current and
	// reports success instead of stepping back a second time.
	Fingerprint string `json:"fingerprint"`
}

// Validate checks the params.
func (p *RollbackParams) Validate() error {
	if err := store.ValidName(p.Name); err != nil {
		return err
	}
	if p.Fingerprint == "" {
		return errors.New("fingerprint is required (the current version's, e.g. from secrets.describe or the step that stored it)")
	}
	return nil
}

// RollbackSpec declares secrets.rollback.
var RollbackSpec = runbooks.ActionSpec{
	Name: "secrets.rollback",
	Description: "Make the version before the current one current again (undo a rotation that broke the bot). " +
		"Only acts while the version with the given fingerprint is current; if it already is not, the rollback " +
		"happened on an earlier attempt and the action succeeds without stepping back again. Versions are never deleted.",
	Params: []runbooks.ParamSpec{nameParam,
		{Name: "fingerprint", Type: runbooks.ParamString, Required: true,
			Description: "fingerprint of the current version, the one to step back from"}},
	Outputs:    []string{"name", "ref", "version", "fingerprint", "previous_ref", "previous_fingerprint", "rolled_back"},
	SideEffect: runbooks.Reversible,
	// Undo: copy the version we stepped back from into a new current one.
	Compensation: &runbooks.CompensationSpec{Action: "secrets.put", With: map[string]any{
		"name": "${{ params.name }}", "from_ref": "${{ outputs.previous_ref }}",
	}},
	Needs: []string{"secrets.store"},
	Example: "- id: undo-rotation\n  action: secrets.rollback\n" +
		"  with: {name: \"binance/bot-1/api\", fingerprint: \"${{ steps.create.outputs.fingerprint }}\"}",
}

func rollback(d Deps) activities.Action {
	return activities.Typed(RollbackSpec, func(ctx context.Context, req runbooks.ActionRequest, p RollbackParams) (runbooks.ActionResult, error) {
		s, err := d.store()
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		vs, err := s.Versions(ctx, p.Name)
		if err != nil {
			return runbooks.ActionResult{}, storeError(err)
		}
		cur, _ := current(vs)
		var from *store.Version
		for i := range vs {
			if vs[i].Fingerprint == p.Fingerprint {
				from = &vs[i]
			}
		}
		if from == nil {
			return runbooks.ActionResult{}, storeError(fmt.Errorf("secret %s has no version with fingerprint %s: %w", p.Name, p.Fingerprint, store.ErrNotFound))
		}
		out := map[string]any{"name": p.Name, "previous_ref": refString(p.Name, from.Version), "previous_fingerprint": from.Fingerprint}
		if cur.Fingerprint != p.Fingerprint {
			// Done on an earlier attempt (or by someone else): the goal,
			// that version no longer current, holds.
			out["ref"], out["version"], out["fingerprint"], out["rolled_back"] = refString(p.Name, cur.Version), cur.Version, cur.Fingerprint, false
			return runbooks.ActionResult{Outputs: out,
				Summary: fmt.Sprintf("secret %s: version %s is no longer current (current %d, %s); nothing to roll back", p.Name, p.Fingerprint, cur.Version, cur.Fingerprint)}, nil
		}
		ref, err := s.Rollback(ctx, p.Name)
		if err != nil {
			return runbooks.ActionResult{}, storeError(err)
		}
		out["ref"], out["version"], out["fingerprint"], out["rolled_back"] = refString(p.Name, ref.Version), ref.Version, ref.Fingerprint, true
		return runbooks.ActionResult{Outputs: out,
			Summary: fmt.Sprintf("secret %s rolled back: %s → %s", p.Name, p.Fingerprint, ref.Fingerprint)}, nil
	})
}
