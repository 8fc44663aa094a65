package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/events/audit/report"
)

func newReportCommand(g *globals) *cobra.Command {
	var format, out string
	c := &cobra.Command{
		Use:   "report INCIDENT",
		Short: "Render the post-incident review (timeline, time to contain, key changes, approvals) as md or html",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "md" && format != "html" {
				return fmt.Errorf("--format %q: want md or html", format)
			}
			recs, err := g.loadAudit(cmd, args[0])
			if err != nil {
				return err
			}
			w, done, err := g.writeTo(out)
			if err != nil {
				return err
			}
			defer done()
			return report.Report(w, recs, format)
		},
	}
	c.Flags().StringVar(&format, "format", "md", "md or html")
	c.Flags().StringVar(&out, "out", "", "write to this file instead of stdout")
	return c
}
