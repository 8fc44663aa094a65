package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

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
	var (
		file           string
		allowLegacy    bool
		withoutHistory bool
	)
	verify := &cobra.Command{
		Use:   "verify INCIDENT",
		Short: "Authenticate the incident's audit trail; names the first forged, altered, removed or inserted record",
		Long: `verify reads the incident's records from the AUDIT stream (or, with --file, from a copy made by
'runbook audit export') and checks every record's MAC under the engine's audit keys (the dev home's
audit-keys, or audit.keys_file / audit.keys_env), its hash and its link to the one before, and the
chain heads the incident's Temporal history recorded (at every workflow audit write, the close
included): records cut off the end, replaced, or written after the close are found too.
Records written before audit keys (no MAC) fail unless --allow-unauthenticated.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := g.auditKeys()
			if err != nil {
				return err
			}
			var recs []audit.Record
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
			opts := audit.VerifyOptions{Keys: keys.Ring, AllowLegacy: allowLegacy}
			if !withoutHistory {
				var runs []string
				for _, r := range audit.Runs(recs) {
					runs = append(runs, r[0].Run)
				}
				if opts.Heads, err = g.auditHeads(cmd.Context(), args[0], runs); err != nil {
					return fmt.Errorf("%w\n(the chain heads in Temporal history are what expose records removed from the end; --without-history skips them)", err)
				}
			}
			res, err := audit.VerifyTrail(recs, opts)
			if err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("BROKEN: %v", err)}
			}
			fmt.Fprintf(g.stdout, "audit trail of %s OK: %d records, last hash %s\n", args[0], len(recs), recs[len(recs)-1].Hash)
			if n := res.Records - res.Legacy; n > 0 {
				fmt.Fprintf(g.stdout, "  authenticated: records %d-%d (audit key ids %s)\n", res.Legacy+1, res.Records, strings.Join(res.KeyIDs, ", "))
			}
			if res.Legacy > 0 {
				fmt.Fprintf(g.stdout, "  UNAUTHENTICATED: records 1-%d (written before audit keys; chain links, accepted by --allow-unauthenticated)\n", res.Legacy)
			}
			if withoutHistory {
				fmt.Fprintln(g.stdout, "  chain heads: not checked (--without-history): records removed from the end would not show")
			} else if res.Heads == 0 {
				fmt.Fprintln(g.stdout, "  chain heads: none in Temporal history (incident recorded before chain heads): records removed from the end would not show")
			} else {
				fmt.Fprintf(g.stdout, "  chain heads: %d recorded in Temporal history, all match\n", res.Heads)
			}
			return nil
		},
	}
	verify.Flags().BoolVar(&allowLegacy, "allow-unauthenticated", false, "accept a leading run of records written before audit keys (no MAC)")
	verify.Flags().BoolVar(&withoutHistory, "without-history", false, "do not compare with the chain heads in the incident's Temporal history (history gone, Temporal unreachable)")
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
	recs, err := audit.Load(cmd.Context(), js, id, audit.DirectReads())
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no audit records for incident %s", id)
	}
	return recs, nil
}
