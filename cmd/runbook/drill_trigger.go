package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
)

func newDrillTriggerCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "trigger SCHEDULE_ID",
		Short: "Run a drill now (skipped if one of this schedule is still running)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := drillScheduleRef(args[0])
			if err != nil {
				return err
			}
			tc, err := g.dialTemporal(cmd.Context())
			if err != nil {
				return err
			}
			defer tc.Close()
			// No overlap override: the schedule's SKIP holds for manual runs too.
			if err := tc.ScheduleClient().GetHandle(cmd.Context(), id).Trigger(cmd.Context(), client.ScheduleTriggerOptions{}); err != nil {
				return fmt.Errorf("trigger %s: %w", id, err)
			}
			fmt.Fprintf(g.stdout, "triggered %s; see `runbook drill report %s`\n", id, strings.SplitN(id, ":", 3)[2])
			return nil
		},
	}
}
