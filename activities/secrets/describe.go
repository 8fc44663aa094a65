package secrets

import (
	"context"
	"fmt"

	"github.com/keyresponse/runbook/activities"
	store "github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/runbooks"
)

// DescribeSpec declares secrets.describe.
var DescribeSpec = runbooks.ActionSpec{
	Name: "secrets.describe",
	Description: "List a secret's versions with their fingerprints, creation times and non-secret meta (key id, " +
		"incident). Never returns a value.",
	Params:     []runbooks.ParamSpec{nameParam},
	Outputs:    []string{"name", "versions", "current_version", "current_fingerprint", "current_ref"},
	SideEffect: runbooks.ReadOnly,
	Needs:      []string{"secrets.store"},
	Example:    "- id: before\n  action: secrets.describe\n  with: {name: \"binance/${{ event.data.bot }}/api\"}",
}

func describe(d Deps) activities.Action {
	return activities.Typed(DescribeSpec, func(ctx context.Context, req runbooks.ActionRequest, p nameParams) (runbooks.ActionResult, error) {
		s, err := d.store()
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		vs, err := s.Versions(ctx, p.Name)
		if err != nil {
			return runbooks.ActionResult{}, storeError(err)
		}
		list := make([]any, 0, len(vs))
		for _, v := range vs {
			list = append(list, versionOutput(v))
		}
		out := map[string]any{"name": p.Name, "versions": list}
		cur, ok := current(vs)
		if ok {
			out["current_version"] = cur.Version
			out["current_fingerprint"] = cur.Fingerprint
			out["current_ref"] = refString(p.Name, cur.Version)
		}
		return runbooks.ActionResult{Outputs: out,
			Summary: fmt.Sprintf("secret %s: %d versions, current %d (%s)", p.Name, len(vs), cur.Version, cur.Fingerprint)}, nil
	})
}

// FingerprintParams are secrets.fingerprint's params.
type FingerprintParams struct {
	// Ref is "name" (current version) or "name@3".
	Ref string `json:"ref"`
}

// Validate checks the params.
func (p *FingerprintParams) Validate() error {
	_, err := store.ParseRef(p.Ref)
	return err
}

// FingerprintSpec declares secrets.fingerprint.
var FingerprintSpec = runbooks.ActionSpec{
	Name: "secrets.fingerprint",
	Description: "Resolve a secret reference to its version and fingerprint (first 12 hex digits of sha256), e.g. to " +
		"check in the audit trail which credential a bot was given. Never returns the value.",
	Params: []runbooks.ParamSpec{{Name: "ref", Type: runbooks.ParamString, Required: true,
		Description: "secret reference: name (current version) or name@version"}},
	Outputs:    []string{"ref", "name", "version", "fingerprint", "current"},
	SideEffect: runbooks.ReadOnly,
	Needs:      []string{"secrets.store"},
}

func fingerprint(d Deps) activities.Action {
	return activities.Typed(FingerprintSpec, func(ctx context.Context, req runbooks.ActionRequest, p FingerprintParams) (runbooks.ActionResult, error) {
		s, err := d.store()
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		ref, _ := store.ParseRef(p.Ref)
		vs, err := s.Versions(ctx, ref.Name)
		if err != nil {
			return runbooks.ActionResult{}, storeError(err)
		}
		var found *store.Version
		for i := range vs {
			if (ref.Version == 0 && vs[i].Current) || (ref.Version != 0 && vs[i].Version == ref.Version) {
				found = &vs[i]
			}
		}
		if found == nil || found.Fingerprint == "" {
			return runbooks.ActionResult{}, storeError(fmt.Errorf("secret %s: %w", p.Ref, store.ErrNotFound))
		}
		return runbooks.ActionResult{
			Outputs: map[string]any{"ref": refString(ref.Name, found.Version), "name": ref.Name, "version": found.Version,
				"fingerprint": found.Fingerprint, "current": found.Current},
			Summary: fmt.Sprintf("secret %s@%d has fingerprint %s", ref.Name, found.Version, found.Fingerprint),
		}, nil
	})
}
