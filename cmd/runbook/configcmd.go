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
		Short: "Validate a config file: unknown fields (with their line), bad values, broken references, unreadable transport files, and unsafe production settings",
		Long: `check reports, each with its field: unknown fields (with their line), bad values and
broken references; transport files (TLS, NATS creds / nkey) that cannot be read; and what is
unsafe in production: plaintext Temporal or NATS to a non-loopback address, Vault over http,
no operators. A lab accepts an unsafe setting by naming it in allow_insecure
(temporal_plaintext, nats_plaintext, vault_http, no_operators); runbook worker runs the same
safety check at start.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			probs := append(append(cfg.Check(), cfg.CheckFiles()...), cfg.Unsafe()...)
			for _, p := range probs {
				fmt.Fprintf(g.stdout, "%s: %s\n", args[0], p)
			}
			if len(probs) > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d problem(s) in %s", len(probs), args[0])}
			}
			fmt.Fprintf(g.stdout, "%s: OK (%d operator(s), %d exchange account(s), %d bot(s), %d on-call people)\n", args[0], len(cfg.Operators), len(cfg.Exchanges), len(cfg.Bots), len(cfg.Oncall.People))
			return nil
		},
	})
	return c
}
