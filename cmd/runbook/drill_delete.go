package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newDrillDeleteCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete SCHEDULE_ID",
		Short: "Delete a drill schedule (past drills stay in the report and the audit trail)",
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
			if err := tc.ScheduleClient().GetHandle(cmd.Context(), id).Delete(cmd.Context()); err != nil {
				return fmt.Errorf("delete %s: %w", id, err)
			}
			fmt.Fprintf(g.stdout, "deleted %s\n", id)
			return nil
		},
	}
}
