package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/integrations/observability"
	"github.com/keyresponse/runbook/integrations/temporalcodec"
	"github.com/keyresponse/runbook/workflows"
)

// dialTemporal connects to the Temporal frontend, failing fast with a hint
// when nothing listens there.
func (g *globals) dialTemporal(ctx context.Context) (client.Client, error) {
	ep := g.resolved()
	kr, err := g.payloadKeyring()
	if err != nil {
		return nil, err
	}
	return dial(ctx, ep.Temporal, ep.Namespace, g.operator(), kr, nil)
}

// payloadKeyring is the payload-encryption keyring: RUNBOOK_PAYLOAD_KEYS or
// RUNBOOK_PAYLOAD_KEY_FILE, else the dev engine's key file in the home dir.
// There is no way to run without one: the workers refuse plaintext payloads
// (a client without the key could otherwise approve a gate), so a CLI or
// worker that has no key stops here and says where a key comes from.
func (g *globals) payloadKeyring() (*temporalcodec.Keyring, error) {
	kr, err := temporalcodec.KeyringFromEnv(os.Getenv)
	if err != nil || kr != nil {
		return kr, err
	}
	if _, err := os.Stat(payloadKeyFile(g.homeDir())); err == nil {
		return temporalcodec.LoadKeyringFile(payloadKeyFile(g.homeDir()))
	}
	return nil, errNoPayloadKey(g.homeDir())
}

func errNoPayloadKey(home string) error {
	return fmt.Errorf("no payload encryption key: set RUNBOOK_PAYLOAD_KEYS or RUNBOOK_PAYLOAD_KEY_FILE "+
		"(the engine refuses unencrypted Temporal payloads; `runbook dev` creates %s)", payloadKeyFile(home))
}

func payloadKeyFile(home string) string { return filepath.Join(home, "payload-keys") }

func dial(ctx context.Context, hostPort, namespace, identity string, kr *temporalcodec.Keyring, metrics client.MetricsHandler) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	opts := client.Options{
		HostPort:  hostPort,
		Namespace: namespace,
		Identity:  identity,
		Logger:    tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	}
	if metrics != nil {
		opts.MetricsHandler = metrics // the SDK's own metrics on /metrics
	}
	// Spans for every workflow run and activity attempt, parented by the
	// trace context in the start request (the breach event's trace).
	if ti, err := observability.TemporalTracingInterceptor(); err == nil {
		opts.Interceptors = append(opts.Interceptors, ti)
	}
	if kr == nil {
		return nil, errors.New("temporal client without a payload key: every engine client encrypts its payloads")
	}
	// Every payload (inputs, results, signals, queries) and every failure
	// message is AES-GCM encrypted before it reaches Temporal, and a
	// plaintext one is refused on the way in.
	opts.DataConverter = temporalcodec.DataConverter(kr)
	opts.FailureConverter = temporalcodec.FailureConverter(kr)
	c, err := client.DialContext(ctx, opts)
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
