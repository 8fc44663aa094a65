package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks/authz"
)

func newOperatorKeygenCommand(g *globals) *cobra.Command {
	var out, name string
	c := &cobra.Command{
		Use:   "keygen",
		Short: "Make an ed25519 operator key pair (never overwrites a key)",
		Long: `keygen writes a new ssh-ed25519 key pair: FILE (OpenSSH private key, mode 0600) and FILE.pub.
An existing file is never overwritten. Then print your roster entry with
'runbook operator roster-line --key FILE' and have an admin add it under operators: in the
engine's configuration. An existing ssh-ed25519 key works too: pass it with --key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := pick(out, g.operatorKeyPath())
			if name == "" {
				name = localOperatorName()
			}
			if !rosterName.MatchString(name) {
				return fmt.Errorf("--name %q: a roster name is lower-case letters, digits, '.', '_' or '-', starting with a letter", name)
			}
			s, err := operatorkey.Generate(path, name)
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s already exists: keygen never overwrites a key (choose another --out, or use that key)", path)
			}
			if err != nil {
				return err
			}
			if asJSON, _ := g.jsonOutput(); asJSON {
				return g.printJSON(map[string]string{"key": path, "public_key": path + ".pub", "fingerprint": authz.Fingerprint(s.PublicKey()), "name": name})
			}
			fmt.Fprintf(g.stdout, "wrote %s (private, 0600) and %s.pub\nfingerprint %s\nroster entry: runbook operator roster-line --key %s --name %s --roles responder\n",
				path, path, authz.Fingerprint(s.PublicKey()), path, name)
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "private key file to write (default: --key, RUNBOOK_OPERATOR_KEY or <home>/operator/id_ed25519)")
	c.Flags().StringVar(&name, "name", "", "your roster name, stored as the key's comment (default: $USER)")
	return c
}
