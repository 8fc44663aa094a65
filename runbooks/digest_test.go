package runbooks_test

import (
	"encoding/json"
	"testing"

	"github.com/keyresponse/runbook/runbooks"
)

// The digest the worker registers (from the parsed file) must equal the one
// the workflow computes from its JSON input, for every shipped runbook; and
// an edited step or re-labelled action must change it.
func TestDefinitionDigestSurvivesTheWorkflowInput(t *testing.T) {
	for _, s := range runbooks.Shipped() {
		rb, _, err := runbooks.Parse("runbooks/"+s.File, s.Src)
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]runbooks.ActionMeta{"exchange.revoke_key": {SideEffect: runbooks.Irreversible}}
		want := runbooks.DefinitionDigest(*rb, actions)
		b, err := json.Marshal(struct {
			R runbooks.Runbook
			A map[string]runbooks.ActionMeta
		}{*rb, actions})
		if err != nil {
			t.Fatal(err)
		}
		var back struct {
			R runbooks.Runbook
			A map[string]runbooks.ActionMeta
		}
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got := runbooks.DefinitionDigest(back.R, back.A); got != want {
			t.Errorf("%s: digest changes through JSON: %s → %s", s.File, want, got)
		}
		edited := back.R
		edited.Steps = append([]runbooks.Step(nil), edited.Steps...)
		edited.Steps[0].ID += "x"
		if runbooks.DefinitionDigest(edited, back.A) == want {
			t.Errorf("%s: an edited step keeps the digest", s.File)
		}
		if runbooks.DefinitionDigest(back.R, map[string]runbooks.ActionMeta{"exchange.revoke_key": {SideEffect: runbooks.Reversible}}) == want {
			t.Errorf("%s: a re-labelled action keeps the digest", s.File)
		}
	}
}
