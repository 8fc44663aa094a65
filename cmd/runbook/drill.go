package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
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
