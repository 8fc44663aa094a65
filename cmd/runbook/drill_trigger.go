package main

import (
	"context"
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
		RunE: onDrillSchedule(g, "trigger", func(ctx context.Context, h client.ScheduleHandle) error {
			// No overlap override: the schedule's SKIP holds for manual runs too.
			return h.Trigger(ctx, client.ScheduleTriggerOptions{})
		}, func(id string) string {
			return fmt.Sprintf("triggered %s; see `runbook drill report %s`", id, strings.SplitN(id, ":", 3)[2])
		}),
	}
}
