package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newWorkerCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run the worker against an external Temporal (and NATS) given by flags or RUNBOOK_* environment",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ep := g.resolved()
			c, err := g.dialTemporal(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			reg, err := buildRegistry(actionDeps{console: g.stdout, allowedHosts: allowedHostsFromEnv()})
			if err != nil {
				return err
			}
			w := newWorker(c, ep.TaskQueue, reg)
			if err := w.Start(); err != nil {
				return fmt.Errorf("worker: %w", err)
			}
			defer w.Stop()
			fmt.Fprintf(g.stdout, "worker on %s namespace %s task queue %q\n", ep.Temporal, ep.Namespace, ep.TaskQueue)
			<-cmd.Context().Done()
			return nil
		},
	}
}
