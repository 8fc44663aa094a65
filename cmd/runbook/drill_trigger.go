package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

func newDrillTriggerCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "trigger SCHEDULE_ID",
		Short: "Run a drill now (skipped if one of this schedule is still running)",
		Args:  cobra.ExactArgs(1),
		RunE: onDrillSchedule(g, authz.VerbDrillTrigger, nil, func(id string, res workflows.DrillChangeResult) string {
			return fmt.Sprintf("triggered %s (by %s); see `runbook drill report %s`", id, res.By.String(), strings.SplitN(id, ":", 3)[2])
		}),
	}
}
