package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"
)

func newActionsCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "actions",
		Short: "List the registered actions with their params, side-effect class and compensation",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			specs := catalog().Actions()
			if asJSON, _ := g.jsonOutput(); asJSON {
				return g.printJSON(specs)
			}
			for _, s := range specs {
				fmt.Fprintf(g.stdout, "%s  [%s]\n  %s\n", s.Name, s.SideEffect, s.Description)
				for _, p := range s.Params {
					req := ""
					if p.Required {
						req = " (required)"
					}
					fmt.Fprintf(g.stdout, "    %-16s %-8s%s\n", p.Name, p.Type, req)
				}
				if s.Compensation != nil {
					fmt.Fprintf(g.stdout, "  compensation: %s\n", s.Compensation.Action)
				}
			}
			return nil
		},
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
