package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/cmd/runbook/config"
	"github.com/keyresponse/runbook/integrations/observability"
	"github.com/keyresponse/runbook/integrations/temporalcodec"
	"github.com/keyresponse/runbook/runbooks/authz"
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
	tr, err := g.temporalTransport()
	if err != nil {
		return nil, err
	}
	return dialWith(ctx, tr, ep.Temporal, ep.Namespace, g.operator(), kr, nil)
}

// temporalTransport is how the connection to Temporal is secured: TLS (a
// client certificate for mTLS) and an API key sent as a bearer token.
type temporalTransport struct {
	tls    *tls.Config
	apiKey string
}

func (g *globals) temporalTransport() (temporalTransport, error) {
	return temporalTransportOf(g.mustCfg().Temporal, os.Getenv)
}

// temporalTransportOf applies temporal.tls and temporal.api_key_env or says
// which cannot be applied. Before, both were parsed and ignored: the client
// spoke plaintext gRPC (first bytes on the wire "PRI * HTTP/2.0").
func temporalTransportOf(t config.Temporal, getenv func(string) string) (temporalTransport, error) {
	var tr temporalTransport
	var err error
	if tr.tls, err = t.TLS.ClientConfig("temporal.tls"); err != nil {
		return tr, err
	}
	if t.APIKeyEnv != "" {
		if tr.apiKey = getenv(t.APIKeyEnv); tr.apiKey == "" {
			return tr, fmt.Errorf("temporal.api_key_env: %s is not set", t.APIKeyEnv)
		}
		if tr.tls == nil {
			// An API key is a bearer token: never send it in clear.
			// Temporal Cloud is served with public roots.
			tr.tls = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	return tr, nil
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

// dial connects in plaintext with no credentials: the dev stack's embedded
// Temporal, which listens on loopback only.
func dial(ctx context.Context, hostPort, namespace, identity string, kr *temporalcodec.Keyring, metrics client.MetricsHandler) (client.Client, error) {
	return dialWith(ctx, temporalTransport{}, hostPort, namespace, identity, kr, metrics)
}

// dialWith connects over the given transport: the worker, its trigger
// consumer's starter (which shares the worker's client) and every CLI verb.
func dialWith(ctx context.Context, tr temporalTransport, hostPort, namespace, identity string, kr *temporalcodec.Keyring, metrics client.MetricsHandler) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	opts := client.Options{
		HostPort:  hostPort,
		Namespace: namespace,
		Identity:  identity,
		Logger:    tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	}
	opts.ConnectionOptions.TLS = tr.tls
	if tr.apiKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(tr.apiKey)
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
// az is the worker's live authorization (authz_wiring.go): the interpreter's
// validators and start check ask it; authzRuntime.wireWorker adds the rest.
func newWorker(c client.Client, taskQueue string, reg *activities.Registry, az authz.Authorizer) worker.Worker {
	w := worker.New(c, taskQueue, worker.Options{Interceptors: []interceptor.WorkerInterceptor{&workflowOnly{}}})
	workflows.Register(w, az)
	reg.RegisterWith(w)
	return w
}
