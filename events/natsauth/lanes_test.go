package natsauth_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/natsauth"
	"github.com/keyresponse/runbook/integrations/natsdev"
)

// Given two named publishers, each in its own account with its own lane,
// when each publishes on breach.<bot>.<kind> as its recipe says, then the
// event lands in that publisher's lane stream with a JetStream ack, the
// shared BREACH and the other lane stay empty, and a configuration in
// which one publisher's account imports the other's lane does not load.
func TestPublisherLanes(t *testing.T) {
	seeds := t.TempDir()
	users, err := natsauth.EnsureSeeds(seeds)
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := natsauth.EnsurePublisherSeeds(seeds, []string{"monitor", "flooder"})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := natsauth.ServerConfig(users, pubs...)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := natsdev.Start(natsdev.Options{StoreDir: t.TempDir(), Config: conf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)
	s := &server{url: ns.URL(), seeds: seeds}
	_, ejs := s.connect(t, natsauth.RoleEngine)
	ctx := context.Background()
	if err := ingest.EnsureStreams(ctx, ejs); err != nil {
		t.Fatal(err)
	}
	if err := ingest.EnsureLaneStreams(ctx, ejs, []ingest.Lane{{Publisher: "monitor"}, {Publisher: "flooder"}}); err != nil {
		t.Fatal(err)
	}
	connectPub := func(name string) jetstream.JetStream {
		opt, err := nats.NkeyOptionFromSeed(natsauth.PublisherSeedFile(seeds, name))
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(s.url, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		return js
	}
	ev := signedEvent(t, "bot-1")
	body, _ := json.Marshal(ev)
	ack, err := connectPub("monitor").Publish(shortCtx(t), ev.NATSSubject(), body)
	if err != nil {
		t.Fatalf("monitor publishes: %v", err)
	}
	if ack.Stream != ingest.LaneStream("monitor") {
		t.Fatalf("acked by %s, want %s", ack.Stream, ingest.LaneStream("monitor"))
	}
	st, _ := ejs.Stream(ctx, ingest.LaneStream("monitor"))
	m, err := st.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if pub, subj, ok := ingest.SplitLane(m.Subject); !ok || pub != "monitor" || subj != ev.NATSSubject() {
		t.Fatalf("stored on %s", m.Subject)
	}
	// A lane publisher cannot write the engine's lane subjects directly.
	if _, err := connectPub("flooder").Publish(refusedCtx(t), ingest.LanePrefix+"monitor."+ev.NATSSubject(), body); err == nil {
		t.Fatal("flooder published into monitor's lane")
	}
	if n := streamMsgs(t, ejs, ingest.LaneStream("monitor")); n != 1 {
		t.Fatalf("monitor lane holds %d", n)
	}
	if n := streamMsgs(t, ejs, ingest.StreamBreach) + streamMsgs(t, ejs, ingest.LaneStream("flooder")); n != 0 {
		t.Fatalf("shared and flooder lanes hold %d", n)
	}
	// Stealing another lane by configuration is refused by the server.
	bad := strings.Replace(conf, `subject: "lane.flooder.breach.>"`, `subject: "lane.monitor.breach.>"`, 1)
	if _, err := natsdev.Start(natsdev.Options{StoreDir: t.TempDir(), Config: bad}); err == nil || !strings.Contains(err.Error(), "not authorized") {
		t.Fatalf("config importing another publisher's lane: %v, want refused", err)
	}
}
