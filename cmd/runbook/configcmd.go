package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/cmd/runbook/config"
)

func newConfigCommand(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Work with the engine config file"}
	c.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a config file: unknown fields (with their line), bad values and broken references",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			probs := cfg.Check()
			for _, p := range probs {
				fmt.Fprintf(g.stdout, "%s: %s\n", args[0], p)
			}
			if len(probs) > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d problem(s) in %s", len(probs), args[0])}
			}
			fmt.Fprintf(g.stdout, "%s: OK (%d exchange account(s), %d bot(s), %d on-call people)\n", args[0], len(cfg.Exchanges), len(cfg.Bots), len(cfg.Oncall.People))
			return nil
		},
	})
	return c
}
