package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/natsauth"
	"github.com/keyresponse/runbook/integrations/temporaldev"
	"github.com/keyresponse/runbook/workflows"
)

// Given the engine in one process (worker, trigger consumer, embedded NATS
// and Temporal) and a publisher streaming signed key_leaked events (each
// bot's breach published three times under distinct event ids),
// When, a third of the way into the stream, only the NATS server is shut
// down and started again on the same store (the engine's connections stay
// and reconnect), and two thirds of the way in only the Temporal server is
// stopped and started again on the same database (the worker and the
// trigger consumer's client stay and reconnect),
// Then no acknowledged event is lost and no incident is doubled: every bot
// has exactly one incident, it succeeds, its sub-account ends with the
// leaked key revoked and exactly one live key, and every incident's audit
// trail is complete and its hash chain verifies.
func TestFault_NATSRestartThenTemporalRestartMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts embedded servers")
	}
	nbots := scaled(10, 5)
	f := startFaultEnv(t, nbots)
	stack := f.env.stack
	natsPort := portOf(t, stack.nats.URL())
	temporalPort := portOf(t, stack.temporal.HostPort())
	home := stack.opts.home

	nc, err := nats.Connect(stack.nats.URL(), devNATSUser(t, home, natsauth.RolePublisher), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	const copies = 3
	total := nbots * copies
	var mu sync.Mutex
	published := 0
	done := make(chan error, 1)
	go publishStream(js, stack.keyring, f.bots, copies, 40*time.Millisecond, &mu, &published, done)
	waitPublished := func(n int) {
		for {
			mu.Lock()
			p := published
			mu.Unlock()
			if p >= n {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	waitPublished(total / 3)
	stack.nats.Stop()
	time.Sleep(500 * time.Millisecond)
	if stack.nats, err = startDevNATS(home, natsPort, stack.lanes); err != nil {
		t.Fatalf("NATS restart: %v", err)
	}
	t.Logf("NATS restarted after %d of %d events", total/3, total)

	waitPublished(2 * total / 3)
	if err := stack.temporal.Stop(); err != nil {
		t.Logf("temporal stop: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	stack.temporal, err = temporaldev.Start(temporaldev.Options{
		DBFile:       filepath.Join(home, "temporal.db"),
		FrontendPort: temporalPort,
		LogFile:      filepath.Join(home, "temporal.log"),
		PortsFile:    filepath.Join(home, "temporal-ports.json"),
	})
	if err != nil {
		t.Fatalf("Temporal restart: %v", err)
	}
	t.Logf("Temporal restarted after %d of %d events", 2*total/3, total)

	if err := <-done; err != nil {
		t.Fatalf("publisher: %v", err)
	}
	ctx := context.Background()
	for _, b := range f.bots {
		id := ingest.IncidentID(benchRunbook, b.ID, b.Key.ID)
		st := f.env.endState(t, id)
		if st.Status != workflows.StatusSucceeded {
			t.Errorf("%s: %s", id, summary(st))
			continue
		}
		checkOneLiveKey(t, f.env.fleet.sim, b)
		recs := f.auditOf(t, id)
		if err := audit.Verify(recs); err != nil {
			t.Errorf("%s: audit chain: %v", id, err)
		}
		if v := audit.Project(recs); v.ContainedAt == nil || v.ClosedAt == nil || v.Status != "succeeded" {
			t.Errorf("%s: audit trail incomplete: contained %v, closed %v, status %q", id, v.ContainedAt, v.ClosedAt, v.Status)
		}
	}
	// Exactly one incident per bot: every event of a bot maps to the same
	// workflow id, so a second run would be a second execution of it.
	for _, b := range f.bots {
		id := ingest.IncidentID(benchRunbook, b.ID, b.Key.ID)
		resp, err := stack.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: stack.temporal.Namespace(), Query: fmt.Sprintf("WorkflowId = %q", id)})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(resp.Executions); n != 1 {
			t.Errorf("%s: %d executions, want 1", id, n)
		}
	}
	s := stack.events.consumer.Stats()
	t.Logf("consumer: received %d, started %d, signalled %d, closed %d, retried %d, dead-lettered %d",
		s.Received, s.Started, s.Signalled, s.Closed, s.Retried, s.DeadLetteredTotal())
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	for _, p := range []string{"nats://", "tls://"} {
		if len(addr) > len(p) && addr[:len(p)] == p {
			addr = addr[len(p):]
		}
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("port of %q: %v", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
