package main

import (
	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/workflows"
)

func newDenyCommand(g *globals) *cobra.Command {
	return decisionCommand(g, "deny", workflows.UpdateDeny, "Deny the waiting approval gate; the incident stops")
}
