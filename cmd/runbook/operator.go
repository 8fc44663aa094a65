package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// newOperatorCommand is `runbook operator`: who you are (the key this CLI
// signs with and the roster entry it belongs to), and the subcommands that
// make a key, print its roster entry and, in the lab, a TOTP code.
func newOperatorCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "operator",
		Short: "Who you are: the key you sign with and its roster entry (keygen, roster-line, totp)",
		Long: `Every control action (exec, approve, deny, abort, drill changes) is a statement signed with
your operator key; the worker checks it against the roster in its own configuration (operators:)
and refuses anything else. The key is --key, else RUNBOOK_OPERATOR_KEY, else
<home>/operator/id_ed25519 (which ` + "`runbook dev`" + ` provisions for the local user). A --key ending in .pub
signs through ssh-agent with that key, so an existing ssh-ed25519 key (as used for git commit
signing) works.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := g.operatorID()
			if err != nil {
				return err
			}
			roles := "unknown here: the roster is the worker's (config operators:); it decides"
			listed := "not found in a readable roster"
			if op.Entry != nil {
				roles = strings.Join(op.Entry.Roles, ", ")
				listed = "yes (config operators:)"
			} else if _, dev := g.devEndpoints(); dev && op.KeyPath == g.defaultOperatorKey() {
				roles = "admin (the operator `runbook dev` provisioned)"
				listed = "the dev roster"
			}
			via := "key file"
			if op.Agent {
				via = "ssh-agent"
			}
			if asJSON, _ := g.jsonOutput(); asJSON {
				out := map[string]any{"name": op.Name, "name_from": op.NameFrom, "fingerprint": op.Fingerprint(),
					"key": op.KeyPath, "via": via}
				if op.Entry != nil {
					out["roles"] = op.Entry.Roles
				}
				return g.printJSON(out)
			}
			fmt.Fprintf(g.stdout, "operator    %s (from %s)\nfingerprint %s\nkey         %s (%s)\nroster      %s\nroles       %s\n",
				op.Name, op.NameFrom, op.Fingerprint(), op.KeyPath, via, listed, roles)
			return nil
		},
	}
	c.AddCommand(newOperatorKeygenCommand(g), newOperatorRosterLineCommand(g), newOperatorTOTPCommand(g))
	return c
}
