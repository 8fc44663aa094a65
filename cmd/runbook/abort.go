package main

import (
	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

func newAbortCommand(g *globals) *cobra.Command {
	return decisionCommand(g, authz.VerbAbort, workflows.UpdateAbort, "Abort an incident: running steps are cancelled, nothing more runs")
}
