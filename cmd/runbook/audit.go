package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/natsauth"
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
	var file string
	verify := &cobra.Command{
		Use:   "verify INCIDENT",
		Short: "Check the incident's hash chain; names the first altered, removed or inserted record",
		Long: `verify reads the incident's records from the AUDIT stream (or, with --file, from a copy made by
'runbook audit export') and checks every record's hash and its link to the one before.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var recs []audit.Record
			var err error
			if file != "" {
				recs, err = importAudit(file)
			} else {
				recs, err = g.loadAudit(cmd, args[0])
			}
			if err != nil {
				var ve *audit.VerifyError
				if errors.As(err, &ve) {
					return &exitError{code: 1, msg: fmt.Sprintf("BROKEN: %v", err)}
				}
				return err
			}
			if err := audit.Verify(recs); err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("BROKEN: %v", err)}
			}
			fmt.Fprintf(g.stdout, "audit chain of %s OK: %d records, last hash %s\n", args[0], len(recs), recs[len(recs)-1].Hash)
			return nil
		},
	}
	verify.Flags().StringVar(&file, "file", "", "verify an exported copy (JSON lines) instead of the stream")
	var out string
	export := &cobra.Command{
		Use:   "export INCIDENT",
		Short: "Write the incident's audit records as JSON lines (for archives, or to verify a copy offline)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			recs, err := g.loadAudit(cmd, args[0])
			if err != nil {
				return err
			}
			w, done, err := g.writeTo(out)
			if err != nil {
				return err
			}
			defer done()
			return audit.Export(w, recs)
		},
	}
	export.Flags().StringVar(&out, "out", "", "write to this file instead of stdout")
	c.AddCommand(verify, export)
	return c
}

func importAudit(path string) ([]audit.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := audit.Import(f)
	if err == nil && len(recs) == 0 {
		err = fmt.Errorf("%s holds no audit records", path)
	}
	return recs, err
}

func (g *globals) loadAudit(cmd *cobra.Command, id string) ([]audit.Record, error) {
	nc, js, err := g.connectNATS(cmd.Context(), natsauth.RoleOperator)
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
