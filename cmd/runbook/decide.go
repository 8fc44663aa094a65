package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/keyresponse/runbook/workflows"
)

// decisionCommand builds approve / deny / abort: each sends an Update with
// the operator's identity, so the answer says at once whether it took.
func decisionCommand(g *globals, verb, update, short string) *cobra.Command {
	var step, comment string
	c := &cobra.Command{
		Use:   verb + " INCIDENT",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.dialTemporal(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			d := workflows.Decision{Step: step, Identity: g.operator(), Comment: comment}
			h, err := c.UpdateWorkflow(cmd.Context(), client.UpdateWorkflowOptions{
				WorkflowID:   args[0],
				UpdateName:   update,
				Args:         []any{d},
				WaitForStage: client.WorkflowUpdateStageCompleted,
			})
			if err == nil {
				err = h.Get(cmd.Context(), nil)
			}
			if err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("%s %s refused: %v", verb, args[0], err)}
			}
			if asJSON, _ := g.jsonOutput(); asJSON {
				return g.printJSON(map[string]string{"incident_id": args[0], "decision": verb, "identity": d.Identity, "step": step})
			}
			fmt.Fprintf(g.stdout, "%s: %s recorded for %s\n", args[0], verb, d.Identity)
			return nil
		},
	}
	c.Flags().StringVar(&step, "step", "", "the gate to answer (default: the one waiting now)")
	c.Flags().StringVarP(&comment, "comment", "m", "", "a note for the audit trail")
	return c
}
