package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const incident = "contain-key-breach:bot-1"

func mustAppend(t *testing.T, s *Store, r Record) Record {
	t.Helper()
	out, err := s.Append(context.Background(), r)
	if err != nil {
		t.Fatalf("append %s %s: %v", r.Kind, r.Key, err)
	}
	return out
}

func mustLoad(t *testing.T, js jetstream.JetStream, id string) []Record {
	t.Helper()
	recs, err := Load(context.Background(), js, id)
	if err != nil {
		t.Fatalf("load %s: %v", id, err)
	}
	return recs
}

func evidence(id string, i int) Record {
	return EvidenceFact(id, fmt.Sprintf("evt-%d", i), "breach.bot-1.key_leaked")
}

func TestAppendBuildsAVerifiableChain(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	s := NewStore(js, WithKeys(testKeys))
	mustAppend(t, s, Opened(incident, OpenedFacts{Runbook: "contain-key-breach", RunbookHash: "sha256:ab", Trigger: "event", TriggerEventID: "evt-0"}))
	for i := 1; i < 150; i++ {
		mustAppend(t, s, evidence(incident, i))
	}
	recs := mustLoad(t, js, incident)
	if len(recs) != 150 {
		t.Fatalf("loaded %d records, want 150", len(recs))
	}
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		if i > 0 && r.PrevHash != recs[i-1].Hash {
			t.Fatalf("record %d prev_hash %s, want %s", r.Seq, r.PrevHash, recs[i-1].Hash)
		}
	}
	if recs[0].PrevHash != "" {
		t.Fatalf("first record prev_hash = %q, want empty", recs[0].PrevHash)
	}
	if err := Verify(recs); err != nil {
		t.Fatal(err)
	}
	// The subject is the reversible token of the id, and a second incident
	// has its own chain starting at 1.
	other := mustAppend(t, s, Opened("rotate-keys:bot.2", OpenedFacts{Runbook: "rotate-keys", Trigger: "drill"}))
	if other.Seq != 1 || other.PrevHash != "" {
		t.Fatalf("second incident starts at seq %d prev %q", other.Seq, other.PrevHash)
	}
	if got := Subject("rotate-keys:bot.2"); got != "audit.rotate-keys_3Abot_2E2" {
		t.Fatalf("subject = %s", got)
	}
}

func TestConcurrentAppendersKeepOneChain(t *testing.T) {
	n, js := setup(t, StreamOptions{})
	const writers, perWriter, procs = 6, 20, 3
	stores := make([]*Store, procs)
	for i := range stores {
		stores[i] = NewStore(n.connect(t), WithKeys(testKeys)) // one connection and cache per "worker process"
	}
	var wg sync.WaitGroup
	errs := make(chan error, procs*writers)
	for p := range procs {
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWriter {
					r := EvidenceFact(incident, fmt.Sprintf("p%d-w%d-%d", p, w, i), "breach.bot-1.x")
					if _, err := stores[p].Append(context.Background(), r); err != nil {
						errs <- err
						return
					}
					// A second incident written at the same time must not disturb the first.
					r2 := EvidenceFact("unfreeze:bot-9", fmt.Sprintf("p%d-w%d-%d", p, w, i), "breach.bot-9.x")
					if _, err := stores[p].Append(context.Background(), r2); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var conflicts int64
	for _, s := range stores {
		conflicts += s.Conflicts()
	}
	// Three processes racing on one subject must have collided: otherwise
	// this test did not exercise the expectation path.
	if conflicts == 0 {
		t.Fatal("no chain conflicts happened between three concurrent writers")
	}
	t.Logf("%d chain conflicts resolved", conflicts)
	for _, id := range []string{incident, "unfreeze:bot-9"} {
		recs := mustLoad(t, js, id)
		if want := procs * writers * perWriter; len(recs) != want {
			t.Fatalf("%s: %d records, want %d", id, len(recs), want)
		}
		if err := Verify(recs); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		seen := map[string]bool{}
		for _, r := range recs {
			if seen[r.Key] {
				t.Fatalf("%s: key %s stored twice", id, r.Key)
			}
			seen[r.Key] = true
		}
	}
}

func TestReappendIsANoOp(t *testing.T) {
	n, js := setup(t, StreamOptions{})
	ctx := context.Background()
	s := NewStore(js, WithKeys(testKeys))
	open := Opened(incident, OpenedFacts{Runbook: "contain-key-breach", Trigger: "manual", StartedBy: "alice"})
	first := mustAppend(t, s, open)
	mustAppend(t, s, StepFact(incident, "freeze", StepStarted, 1, false, map[string]string{"action": "bot.freeze"}))

	// Same process retrying, later and with a different time: no-op, and the
	// record stored first comes back.
	again := open
	again.Time = time.Now().Add(time.Hour)
	if got := mustAppend(t, s, again); got.Hash != first.Hash || got.Seq != 1 {
		t.Fatalf("re-append returned seq %d hash %s, want the first record", got.Seq, got.Hash)
	}
	// Another process with an empty cache (a worker restart): still a no-op.
	if got := mustAppend(t, NewStore(n.connect(t), WithKeys(testKeys)), again); got.Seq != 1 {
		t.Fatalf("re-append from a new store returned seq %d", got.Seq)
	}
	// Past JetStream's duplicate window the Msg-Id no longer helps; the key
	// on the subject still does. Simulate it: a record with key "late" is
	// already on the subject without any Nats-Msg-Id.
	recs := mustLoad(t, js, incident)
	late := evidence(incident, 7)
	late.Time = time.Now()
	late.Seal(&recs[len(recs)-1])
	data, _ := json.Marshal(late)
	if _, err := js.Publish(ctx, Subject(incident), data); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*Store{s, NewStore(n.connect(t), WithKeys(testKeys))} {
		if got := mustAppend(t, st, evidence(incident, 7)); got.Seq != late.Seq {
			t.Fatalf("late re-append stored a new record #%d", got.Seq)
		}
	}
	// Two processes racing to write the same fact: one record.
	var wg sync.WaitGroup
	for range 4 {
		st := NewStore(n.connect(t), WithKeys(testKeys))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := st.Append(ctx, Closed(incident, "succeeded", "")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	recs = mustLoad(t, js, incident)
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4 (opened, started, evidence, closed): %+v", len(recs), recs)
	}
	// A store that wrote the close forgets the incident's keys; a retried
	// close is still a no-op and late evidence still chains on.
	s2 := NewStore(n.connect(t), WithKeys(testKeys))
	if got := mustAppend(t, s2, Closed(incident, "succeeded", "")); got.Seq != 4 {
		t.Fatalf("retried close stored as #%d", got.Seq)
	}
	if got := mustAppend(t, s2, evidence(incident, 8)); got.Seq != 5 || got.PrevHash != recs[3].Hash {
		t.Fatalf("late evidence stored as #%d prev %s", got.Seq, got.PrevHash)
	}
	if err := Verify(mustLoad(t, js, incident)); err != nil {
		t.Fatal(err)
	}
}

func TestAppendRejectsMalformedRecords(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	s := NewStore(js, WithKeys(testKeys))
	for _, r := range []Record{
		{Kind: IncidentOpened, Key: "opened"},
		{IncidentID: incident, Kind: "incident.renamed", Key: "x"},
		{IncidentID: incident, Kind: IncidentClosed},
	} {
		if _, err := s.Append(context.Background(), r); err == nil {
			t.Fatalf("append %+v succeeded", r)
		}
	}
}

func TestStreamRefusesRemoval(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	ctx := context.Background()
	s := NewStore(js, WithKeys(testKeys))
	mustAppend(t, s, Opened(incident, OpenedFacts{Runbook: "r", Trigger: "manual"}))
	mustAppend(t, s, evidence(incident, 1))
	st, err := js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(ctx, 1); err == nil {
		t.Fatal("DeleteMsg succeeded on the AUDIT stream")
	}
	if err := st.SecureDeleteMsg(ctx, 2); err == nil {
		t.Fatal("SecureDeleteMsg succeeded on the AUDIT stream")
	}
	if err := st.Purge(ctx); err == nil {
		t.Fatal("Purge succeeded on the AUDIT stream")
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(Subject(incident))); err == nil {
		t.Fatal("subject purge succeeded on the AUDIT stream")
	}
	// Nor can the protection be switched off through the API.
	cfg := StreamConfig(StreamOptions{AllowRemoval: true})
	if _, err := js.UpdateStream(ctx, cfg); err == nil {
		t.Fatal("UpdateStream turned DenyDelete/DenyPurge off")
	}
	if err := Verify(mustLoad(t, js, incident)); err != nil {
		t.Fatal(err)
	}
}

func TestLoadUnknownIncidentIsEmpty(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	recs, err := Load(context.Background(), js, "nope:bot-0")
	if err != nil || len(recs) != 0 {
		t.Fatalf("Load = %v, %v", recs, err)
	}
	if !errors.Is(Verify(recs), ErrNoRecords) {
		t.Fatal("Verify of an empty trail passed")
	}
}
