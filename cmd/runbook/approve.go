package main

import (
	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

func newApproveCommand(g *globals) *cobra.Command {
	return decisionCommand(g, authz.VerbApprove, workflows.UpdateApprove, "Approve the approval gate an incident is waiting on")
}
