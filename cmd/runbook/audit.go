package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/events/audit"
)

func newAuditCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "audit INCIDENT",
		Short: "Print an incident's audit timeline (from the AUDIT stream)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			recs, err := g.loadAudit(cmd, args[0])
			if err != nil {
				return err
			}
			if asJSON, _ := g.jsonOutput(); asJSON {
				return audit.Export(g.stdout, recs)
			}
			return audit.Timeline(g.stdout, recs)
		},
	}
	c.AddCommand(&cobra.Command{
		Use:   "verify INCIDENT",
		Short: "Check the incident's hash chain; names the first altered, removed or inserted record",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			recs, err := g.loadAudit(cmd, args[0])
			if err != nil {
				var ve *audit.VerifyError
				if errors.As(err, &ve) {
					return &exitError{code: 1, msg: fmt.Sprintf("audit chain of %s is BROKEN: %v", args[0], err)}
				}
				return err
			}
			if err := audit.Verify(recs); err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("audit chain of %s is BROKEN: %v", args[0], err)}
			}
			fmt.Fprintf(g.stdout, "audit chain of %s OK: %d records, last hash %s\n", args[0], len(recs), recs[len(recs)-1].Hash)
			return nil
		},
	})
	return c
}

func (g *globals) loadAudit(cmd *cobra.Command, id string) ([]audit.Record, error) {
	nc, js, err := g.connectNATS(cmd.Context())
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	recs, err := audit.Load(cmd.Context(), js, id)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no audit records for incident %s", id)
	}
	return recs, nil
}
