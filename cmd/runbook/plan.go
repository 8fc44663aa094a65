package main

import (
	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/runbooks"
)

func newPlanCommand(g *globals) *cobra.Command {
	var (
		inputs    []string
		eventFile string
	)
	c := &cobra.Command{
		Use:   "plan RUNBOOK",
		Short: "Dry run: resolve templates and conditions and show what would run, touching nothing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.jsonOutput()
			if err != nil {
				return err
			}
			in, err := g.incidentInput(args[0], inputs, eventFile, "plan")
			if err != nil {
				return err
			}
			steps, err := runbooks.Plan(&in.Runbook, catalog(), in.Inputs, in.Event)
			if err != nil {
				return err
			}
			if asJSON {
				return g.printJSON(map[string]any{"runbook": in.Runbook.Name, "runbook_hash": in.RunbookHash, "inputs": in.Inputs, "steps": steps})
			}
			return runbooks.FormatPlan(g.stdout, steps)
		},
	}
	c.Flags().StringArrayVarP(&inputs, "input", "i", nil, "runbook input as name=value (repeatable)")
	c.Flags().StringVar(&eventFile, "event", "", "a breach event (CloudEvents JSON) to plan against")
	return c
}
