// Package secrets holds the secret-store actions: secrets.describe and
// secrets.fingerprint (read-only: versions and fingerprints, never values),
// secrets.rollback (make the previous version current again) and
// secrets.put (copy the value of another stored secret into a new version).
//
// There is deliberately no action that takes a secret value as a param.
// Params come from runbook files, trigger events and workflow inputs, and
// all of those end up in Temporal history, the audit trail and plans: a
// value there is a leaked value. New secrets enter the store only from
// inside the activity that receives them (exchange.create_key writes the
// exchange's answer straight into the store), or from an operator with the
// store's own tooling. secrets.put therefore copies between references, which
// covers the runbook needs: restore a known version, promote a staged
// credential, and undo a rollback.
package secrets

import (
	"errors"
	"fmt"

	"github.com/keyresponse/runbook/activities"
	store "github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/runbooks"
)

// Deps are what the actions need from the worker.
type Deps struct {
	Store store.Store
}

// Actions returns every secrets action, for activities.NewRegistry.
func Actions(d Deps) []activities.Action {
	return []activities.Action{describe(d), fingerprint(d), rollback(d), put(d)}
}

func (d Deps) store() (store.Store, error) {
	if d.Store == nil {
		return nil, activities.NonRetryable(activities.ErrInvalidParams, errors.New("no secret store configured on this worker"))
	}
	return d.Store, nil
}

// storeError classifies a store error: an unknown secret or a lost race is
// not fixed by retrying the same request; anything else (network, Vault
// sealed) is retried by the step's policy.
func storeError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return activities.NonRetryable(activities.ErrNotFound, err)
	case errors.Is(err, store.ErrConflict):
		return activities.NonRetryable(ErrConflict, err)
	}
	return activities.Retryable(activities.ErrUnavailable, err)
}

// ErrConflict is the error type of a secret changed by someone else while
// the action ran.
const ErrConflict = "SecretConflict"

var nameParam = runbooks.ParamSpec{Name: "name", Type: runbooks.ParamString, Required: true,
	Description: "secret name, e.g. binance/bot-1/api"}

type nameParams struct {
	Name string `json:"name"`
}

func (p *nameParams) Validate() error { return store.ValidName(p.Name) }

func current(vs []store.Version) (store.Version, bool) {
	for _, v := range vs {
		if v.Current {
			return v, true
		}
	}
	return store.Version{}, false
}

func versionOutput(v store.Version) map[string]any {
	m := map[string]any{"version": v.Version, "fingerprint": v.Fingerprint, "current": v.Current,
		"created_at": v.CreatedAt.UTC().Format("2006-01-02T15:04:05Z07:00")}
	if len(v.Meta) > 0 {
		meta := map[string]any{}
		for k, x := range v.Meta {
			meta[k] = x
		}
		m["meta"] = meta
	}
	return m
}

func refString(name string, version int) string { return fmt.Sprintf("%s@%d", name, version) }

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
