package main

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/natsauth"
	"github.com/keyresponse/runbook/workflows"
)

// Given the engine as a child process and a publisher streaming signed
// key_leaked events (one breach per bot, each published three times under
// distinct event ids: duplicates of the breach),
// When the engine — NATS and Temporal servers, worker and trigger consumer
// together — is SIGKILLed a third of the way into the stream and started
// again on the same state while the publisher keeps going (retrying every
// publish until JetStream acknowledges it),
// Then no acknowledged event is lost: every bot gets exactly one incident,
// it completes, and its sub-account ends with exactly one live key and the
// leaked key revoked.
func TestFault_ServersRestartMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills engine processes")
	}
	nbots := scaled(12, 5)
	k := startKillableEngine(t, nbots)
	dev := k.start()
	url := fmt.Sprintf("nats://127.0.0.1:%d", k.nport)
	// The monitor publishes as the dev engine's publisher user.
	nc, err := nats.Connect(url, devNATSUser(t, k.home, natsauth.RolePublisher), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
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
	go publishStream(js, k.keyring, k.bots, copies, 30*time.Millisecond, &mu, &published, done)
	// Kill a third of the way in.
	for {
		mu.Lock()
		p := published
		mu.Unlock()
		if p >= total/3 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	dev.kill()
	dev = k.start()
	if err := <-done; err != nil {
		t.Fatalf("publisher: %v\n%s", err, dev.out.String())
	}
	c := cli{t: t, home: k.home}
	for _, b := range k.bots {
		id := ingest.IncidentID(benchRunbook, b.ID, b.Key.ID)
		st := c.waitFor(id, "the incident to end", func(st workflows.IncidentState) bool { return st.EndedAt != nil })
		if st.Status != workflows.StatusSucceeded {
			t.Errorf("%s: %s", id, summary(st))
			continue
		}
		checkOneLiveKey(t, k.ex.sim, b)
	}
	l := c.run("list", "--output", "json", "--limit", "100")
	var listed struct {
		Incidents []incidentSummary `json:"incidents"`
	}
	mustUnmarshal(t, l.stdout, &listed)
	for _, b := range k.bots {
		n := 0
		for _, inc := range listed.Incidents {
			if inc.IncidentID == ingest.IncidentID(benchRunbook, b.ID, b.Key.ID) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d incidents listed, want 1", b.ID, n)
		}
	}
}
