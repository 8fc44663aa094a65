package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/runbooks/authz"
)

func newOperatorTOTPCommand(g *globals) *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "totp",
		Short: "Print the current TOTP code of a secret file (lab use: in production an authenticator app holds the secret)",
		Long: `totp prints the current RFC 6238 code (30 s, 6 digits, SHA-1) of a base32 secret file, by
default <home>/operator/totp (the one ` + "`runbook dev`" + ` enrolls for the local operator), for gates with
second_factor: totp: runbook approve INCIDENT --totp CODE. This is for the lab: a secret on
the same disk as your key is one factor, not two; in production enroll the secret in an
authenticator app or hardware token and keep no copy. The secret itself is never printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := pick(file, devOperatorTOTP(g.homeDir()))
			b, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("TOTP secret: %w", err)
			}
			secret, err := authz.DecodeTOTPSecret(string(b))
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			now := time.Now()
			code := authz.TOTPCode(secret, authz.TOTPCounter(now), authz.TOTPDigits)
			left := authz.TOTPStep - time.Duration(now.Unix()%int64(authz.TOTPStep/time.Second))*time.Second
			if asJSON, _ := g.jsonOutput(); asJSON {
				return g.printJSON(map[string]any{"code": code, "valid_for_seconds": int(left / time.Second), "secret_file": path})
			}
			fmt.Fprintln(g.stdout, code)
			fmt.Fprintf(g.stderr, "(current code of %s, %s left; lab use only: in production your authenticator app shows it)\n", path, left)
			return nil
		},
	}
	c.Flags().StringVar(&file, "secret-file", "", "base32 TOTP secret (default <home>/operator/totp)")
	return c
}
