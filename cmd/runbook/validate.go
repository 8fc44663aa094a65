package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/runbooks"
)

func newValidateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check runbook files; prints file:line:col: field: message for each problem",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.jsonOutput()
			if err != nil {
				return err
			}
			all := []runbooks.Problem{}
			for _, file := range args {
				src, err := runbooks.ReadFile(file)
				if err != nil {
					all = append(all, runbooks.Problem{File: file, Message: err.Error()})
					continue
				}
				all = append(all, runbooks.Validate(file, src, catalog())...)
			}
			if asJSON {
				if err := g.printJSON(map[string]any{"files": args, "problems": all}); err != nil {
					return err
				}
			} else {
				for _, p := range all {
					fmt.Fprintln(g.stdout, p.String())
				}
			}
			if len(all) > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d problem(s) in %d file(s)", len(all), len(args))}
			}
			if !asJSON {
				fmt.Fprintf(g.stdout, "%d file(s) valid\n", len(args))
			}
			return nil
		},
	}
}
