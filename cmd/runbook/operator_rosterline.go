package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks/authz"
)

func newOperatorRosterLineCommand(g *globals) *cobra.Command {
	var name, phone string
	var roles []string
	c := &cobra.Command{
		Use:   "roster-line",
		Short: "Print the YAML roster entry of your key, to paste under operators: in the engine's config",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, comment, err := g.operatorPublicKey()
			if err != nil {
				return err
			}
			if name == "" {
				var ok bool
				if name, ok = commentName(comment); !ok {
					name = localOperatorName()
				}
				name = pick(g.identity, name)
			}
			op := authz.Operator{Name: name, Keys: []string{operatorkey.AuthorizedKey(pub, name)}, Phone: phone, Roles: roles}
			// The worker's own check, so a line printed here loads there.
			if _, err := authz.Compile(authz.Policy{Operators: []authz.Operator{op}}); err != nil {
				return fmt.Errorf("roster entry: %s", strings.TrimPrefix(err.Error(), "operators[0] "))
			}
			b, err := yaml.Marshal([]authz.Operator{op})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "# %s, key %s: paste under operators: in the engine's config, then reload the worker (SIGHUP)\n%s",
				name, authz.Fingerprint(pub), b)
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "roster name (default: the key's comment, else $USER)")
	c.Flags().StringSliceVar(&roles, "roles", []string{authz.RoleResponder}, "roles, comma-separated (built in: "+strings.Join(authz.BuiltinRoleNames(), ", ")+")")
	c.Flags().StringVar(&phone, "phone", "", "phone for pages and SMS codes, E.164 (+15551234567)")
	return c
}
