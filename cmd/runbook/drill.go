package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
)

// newDrillCommand groups the drill verbs: scheduled key-rotation drills and
// breach rehearsals, backed by Temporal Schedules (one per bot and runbook,
// id drill:<runbook>:<bot>). See docs/drills.md.
func newDrillCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "drill",
		Short: "Scheduled key-rotation drills and breach rehearsals (Temporal Schedules)",
	}
	c.AddCommand(
		newDrillScheduleCommand(g),
		newDrillListCommand(g),
		newDrillPauseCommand(g),
		newDrillUnpauseCommand(g),
		newDrillTriggerCommand(g),
		newDrillDeleteCommand(g),
		newDrillReportCommand(g),
	)
	return c
}

// drillScheduleRef accepts a schedule id (drill:<runbook>:<bot>) as given.
func drillScheduleRef(arg string) (string, error) {
	if !strings.HasPrefix(arg, "drill:") || strings.Count(arg, ":") != 2 {
		return "", fmt.Errorf("%q is not a drill schedule id (drill:<runbook>:<bot>; see `runbook drill list`)", arg)
	}
	return arg, nil
}

// onDrillSchedule is the body of the verbs that act on one drill schedule
// (pause, unpause, trigger, delete): check the id, dial Temporal, act on the
// schedule's handle, then print done(id). verb names the failing step.
func onDrillSchedule(g *globals, verb string, act func(ctx context.Context, h client.ScheduleHandle) error,
	done func(id string) string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		id, err := drillScheduleRef(args[0])
		if err != nil {
			return err
		}
		tc, err := g.dialTemporal(cmd.Context())
		if err != nil {
			return err
		}
		defer tc.Close()
		if err := act(cmd.Context(), tc.ScheduleClient().GetHandle(cmd.Context(), id)); err != nil {
			return fmt.Errorf("%s %s: %w", verb, id, err)
		}
		fmt.Fprintln(g.stdout, done(id))
		return nil
	}
}
