package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/workflows"
)

// dialTemporal connects to the Temporal frontend, failing fast with a hint
// when nothing listens there.
func (g *globals) dialTemporal(ctx context.Context) (client.Client, error) {
	ep := g.resolved()
	return dial(ctx, ep.Temporal, ep.Namespace, g.operator())
}

func dial(ctx context.Context, hostPort, namespace, identity string) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  hostPort,
		Namespace: namespace,
		Identity:  identity,
		Logger:    tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s (namespace %s): %w\nIs `runbook dev` running? Or pass --temporal-address / RUNBOOK_TEMPORAL_ADDRESS", hostPort, namespace, err)
	}
	return c, nil
}

// newWorker registers the interpreter workflow and every action on the task
// queue. The same wiring serves `runbook dev` and `runbook worker`.
func newWorker(c client.Client, taskQueue string, reg *activities.Registry) worker.Worker {
	w := worker.New(c, taskQueue, worker.Options{})
	workflows.Register(w)
	reg.RegisterWith(w)
	return w
}
