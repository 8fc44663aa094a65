package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
)

func newDrillUnpauseCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause SCHEDULE_ID",
		Short: "Resume a paused drill schedule (runs missed while paused are not caught up)",
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
			if err := tc.ScheduleClient().GetHandle(cmd.Context(), id).Unpause(cmd.Context(), client.ScheduleUnpauseOptions{Note: "unpaused by " + g.operator()}); err != nil {
				return fmt.Errorf("unpause %s: %w", id, err)
			}
			fmt.Fprintf(g.stdout, "unpaused %s\n", id)
			return nil
		},
	}
}
