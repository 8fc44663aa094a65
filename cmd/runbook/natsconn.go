package main

import (
	"context"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/natsauth"
)

// connectNATS connects a CLI verb to the engine's NATS as role, with
// credentials from the environment (never from the command line), else
// the dev engine's user for that role.
func (g *globals) connectNATS(ctx context.Context, role natsauth.Role) (*nats.Conn, jetstream.JetStream, error) {
	url := g.resolved().NATS
	nc, err := ingest.Connect(withDevCredential(natsConnOptions(url, "runbook-cli"), g.homeDir(), role))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach NATS at %s: %w\nIs `runbook dev` running? Or pass --nats-url / RUNBOOK_NATS_URL", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// natsConnOptions reads NATS credentials from RUNBOOK_NATS_CREDS (creds
// file), RUNBOOK_NATS_NKEY (seed file), RUNBOOK_NATS_USER/PASSWORD or
// RUNBOOK_NATS_TOKEN.
func natsConnOptions(url, name string) ingest.ConnOptions {
	return ingest.ConnOptions{
		URL:       url,
		Name:      name,
		CredsFile: os.Getenv("RUNBOOK_NATS_CREDS"),
		NKeyFile:  os.Getenv("RUNBOOK_NATS_NKEY"),
		User:      os.Getenv("RUNBOOK_NATS_USER"),
		Password:  os.Getenv("RUNBOOK_NATS_PASSWORD"),
		Token:     os.Getenv("RUNBOOK_NATS_TOKEN"),
	}
}
