// Command runbook is the breach-response runbook engine: one binary with a
// verb per file (dev, worker, exec, plan, status, list, validate, approve,
// deny, abort, ...).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the CLI in-process; tests call it directly so they drive the
// same code path as the binary.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "runbook:", err)
	return 1
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "runbook",
		Short:         "Breach-response runbooks for trading-bot API keys, run durably on Temporal",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g.bind(root)
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if _, err := g.cfg(); err != nil {
			return err
		}
		return nil
	}
	root.AddCommand(
		newDevCommand(g),
		newWorkerCommand(g),
		newExecCommand(g),
		newPlanCommand(g),
		newStatusCommand(g),
		newListCommand(g),
		newValidateCommand(g),
		newApproveCommand(g),
		newDenyCommand(g),
		newAbortCommand(g),
		newOperatorCommand(g),
		newActionsCommand(g),
		newEventCommand(g),
		newAuditCommand(g),
		newReportCommand(g),
		newConfigCommand(g),
		newExchangeSimCommand(g),
		newDrillCommand(g),
		newBenchCommand(g),
	)
	return root
}
