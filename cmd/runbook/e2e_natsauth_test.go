package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/natsauth"
)

// Given `runbook dev` on a fresh home,
// Then its NATS refuses a client without credentials, the users it
// provisioned are 0600 seed files in the home, the CLI publishes a breach
// event as the publisher user and reads the audit trail as the operator
// user with no flags, and the publisher's credential opens neither AUDIT
// nor the stream API.
func TestE2E_DevNATSHasUsersAndShutsOutStrangers(t *testing.T) {
	stack, c := startDemoStack(t)
	url := stack.nats.URL()

	if nc, err := nats.Connect(url); err == nil {
		nc.Close()
		t.Fatal("dev NATS accepted a client without credentials")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("unauthenticated connect: want an authorization violation, got %v", err)
	}
	for _, r := range natsauth.Roles {
		fi, err := os.Stat(natsauth.SeedFile(devNATSUsersDir(c.home), r))
		if err != nil {
			t.Fatalf("%s user not provisioned: %v", r, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s seed has mode %v, want 0600", r, fi.Mode().Perm())
		}
	}

	// The CLI, with no credential flags or variables: publisher for
	// `event send`, operator for `audit`.
	withNATS := func(args ...string) cliResult { return c.run(append([]string{"--nats-url", url}, args...)...) }
	if r := withNATS("event", "send", "--bot", "bot-1", "--kind", "key_leaked", "--exchange", "binance", "--severity", "high"); r.code != 0 {
		t.Fatalf("event send as the publisher user: %s", r.stderr)
	}
	breachStream, err := stack.events.js.Stream(context.Background(), ingest.StreamBreach)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := breachStream.Info(context.Background()); err != nil || info.State.Msgs != 1 {
		t.Fatalf("BREACH after the publisher's event: %+v, %v", info, err)
	}
	id := "demo-approval:bot-1"
	if _, err := stack.events.store.Append(context.Background(), audit.Record{IncidentID: id, Kind: audit.IncidentOpened, Key: "opened"}); err != nil {
		t.Fatal(err)
	}
	if r := withNATS("audit", id); r.code != 0 || !strings.Contains(r.stdout, "incident opened") {
		t.Fatalf("audit as the operator user: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	nc, err := nats.Connect(url, devNATSUser(t, c.home, natsauth.RolePublisher))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if recs, err := audit.Load(ctx, js, id); err == nil {
		t.Fatalf("the publisher user read %d audit records", len(recs))
	}
	if err := js.DeleteStream(ctx, audit.StreamName); err == nil {
		t.Fatal("the publisher user deleted AUDIT")
	}
}
