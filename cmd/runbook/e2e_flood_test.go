package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/natsauth"
	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// Given `runbook dev`'s whole stack with two publisher lanes, "monitor"
// and "flooder" (capped at 5,000 events/s), and 20,000 events with forged
// header signatures queued by the flooder's own NATS user,
// When the monitor publishes one genuine signed key_leaked event for the
// demo bot,
// Then the leaked key is locked out at the exchange while most of the flood
// is still queued (the lanes are taken round-robin), exactly one incident
// runs, and every forged event is dead-lettered (whole or in a summary) —
// and the flood is paged to on-call once, naming the flooder.
func TestE2E_GenuineBreachContainedBehindAQueuedFlood(t *testing.T) {
	home := t.TempDir()
	console := &lockedBuffer{}
	g := &globals{}
	books, err := g.triggerBooks()
	if err != nil {
		t.Fatal(err)
	}
	stack, err := startDevStack(context.Background(), devOptions{home: home, taskQueue: "runbook", console: console, identity: "e2e", books: books,
		publishers: []ingest.Lane{{Publisher: "monitor"}, {Publisher: "flooder", Rate: 5000, Burst: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.stop()
	c := cli{t: t, home: home, temporal: stack.temporal.HostPort()}
	sim := stack.exchange.sim
	acct, _ := stack.exchange.demo.Find("binance")
	leaked := acct.Bot

	// Given: the flood, from the flooder's own credential.
	opt, err := nats.NkeyOptionFromSeed(natsauth.PublisherSeedFile(devNATSUsersDir(home), "flooder"))
	if err != nil {
		t.Fatal(err)
	}
	fnc, err := nats.Connect(stack.nats.URL(), opt)
	if err != nil {
		t.Fatal(err)
	}
	defer fnc.Close()
	fjs, _ := jetstream.New(fnc)
	const flood = 20000
	wrong := breach.Keyring{"dev": []byte("attacker-guessed-key-0123456789ab")}
	now := time.Now()
	for i := range flood {
		ev := breach.New("/attacker", "key_leaked", breach.Data{Bot: fmt.Sprintf("flood-%d", i%100), Exchange: "binance", Severity: breach.SeverityHigh, Source: "x"}, now)
		body, _ := json.Marshal(ev)
		m := nats.NewMsg(ev.NATSSubject())
		m.Data = body
		h, _ := breach.SignHeader(body, wrong, "dev")
		m.Header.Set(breach.HeaderSignature, h)
		if _, err := fjs.PublishMsgAsync(m); err != nil {
			t.Fatal(err)
		}
		if i%5000 == 4999 {
			<-fjs.PublishAsyncComplete()
		}
	}
	<-fjs.PublishAsyncComplete()

	// When: the genuine event, from the monitor's lane.
	cons := stack.events.consumer
	send := c.run("--nats-url", stack.nats.URL(), "event", "send", "--publisher", "monitor", "--bot", "bot-1", "--kind", "key_leaked",
		"--exchange", "binance", "--key-id", leaked.ID, "--severity", "high")
	if send.code != 0 {
		t.Fatalf("event send --publisher monitor: %d %s", send.code, send.stderr)
	}

	// Then: locked out while the flood is still being worked off.
	var handledAtLockout uint64
	waitUntil(t, "the leaked key locked out", func() bool {
		if len(sim.Calls(exchangesim.CallFilter{Exchange: "binance", Op: "set_ip_whitelist", OnlyOK: true})) == 0 {
			return false
		}
		handledAtLockout = cons.Stats().DeadLettered[breach.ReasonBadSignature]
		return true
	})
	t.Logf("forged events handled when the leaked key was locked out: %d of %d", handledAtLockout, flood)
	if handledAtLockout > flood/2 {
		t.Errorf("the lockout came after %d of %d queued forged events were handled: the genuine lane waited for the flood", handledAtLockout, flood)
	}
	waitUntil(t, "the flood dead-lettered", func() bool { return cons.Stats().DeadLettered[breach.ReasonBadSignature] >= flood })
	s := cons.Stats()
	if s.DeadLettered[breach.ReasonBadSignature] != flood || s.Started != 1 {
		t.Errorf("consumer stats %+v: want %d bad_signature dead letters and exactly one incident", s, flood)
	}
	if s.Floods != 1 {
		t.Errorf("flood alerts %d, want 1", s.Floods)
	}
	waitUntil(t, "on-call paged about the flood", func() bool {
		out := console.String()
		return strings.Contains(out, "[runbook] breach stream flooded") && strings.Contains(out, "publisher flooder")
	})
}
