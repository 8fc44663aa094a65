package main

import (
	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

func newDenyCommand(g *globals) *cobra.Command {
	return decisionCommand(g, authz.VerbDeny, workflows.UpdateDeny, "Deny the waiting approval gate; the incident stops")
}
