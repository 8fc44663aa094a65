package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// trail appends a 10-record incident through a Store and returns it.
func trail(t *testing.T, s *Store) []Record {
	t.Helper()
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	facts := []Record{Opened(incident, OpenedFacts{Runbook: "contain-key-breach", RunbookHash: "sha256:00", Trigger: "event", TriggerEventID: "evt-1"})}
	for i := 1; i < 10; i++ {
		facts = append(facts, evidence(incident, i))
	}
	var out []Record
	for i, f := range facts {
		f.Time = t0.Add(time.Duration(i) * time.Second)
		out = append(out, mustAppend(t, s, f))
	}
	return out
}

func wantBroken(t *testing.T, recs []Record, seq uint64, p Problem) {
	t.Helper()
	err := Verify(recs)
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("Verify = %v, want a VerifyError naming #%d as %s", err, seq, p)
	}
	if ve.Seq != seq || ve.Problem != p {
		t.Fatalf("Verify named #%d %s (%v), want #%d %s", ve.Seq, ve.Problem, err, seq, p)
	}
	t.Log(err)
}

// roundTrip exports and re-imports recs: tampering happens on the copy.
func roundTrip(t *testing.T, recs []Record) []Record {
	t.Helper()
	var buf bytes.Buffer
	if err := Export(&buf, recs); err != nil {
		t.Fatal(err)
	}
	out, err := Import(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyOnExportedCopy(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	trail(t, NewStore(js, WithKeys(testKeys)))
	orig := roundTrip(t, mustLoad(t, js, incident))
	if err := Verify(orig); err != nil {
		t.Fatalf("untouched export: %v", err)
	}
	copyOf := func() []Record { return roundTrip(t, orig) }

	t.Run("altered attribute", func(t *testing.T) {
		recs := copyOf()
		recs[4].Attrs["event_id"] = "evt-forged"
		wantBroken(t, recs, 5, Altered)
	})
	t.Run("altered time", func(t *testing.T) {
		recs := copyOf()
		recs[2].Time = recs[2].Time.Add(-time.Minute)
		wantBroken(t, recs, 3, Altered)
	})
	t.Run("altered and re-hashed", func(t *testing.T) {
		recs := copyOf()
		recs[4].Actor = "mallory"
		recs[4].Hash = recs[4].ComputeHash()
		wantBroken(t, recs, 6, Inserted) // #6 no longer follows the replaced #5
	})
	t.Run("removed from the middle", func(t *testing.T) {
		recs := copyOf()
		recs = append(recs[:6], recs[7:]...)
		wantBroken(t, recs, 7, Removed)
	})
	t.Run("removed first", func(t *testing.T) {
		wantBroken(t, copyOf()[1:], 1, Removed)
	})
	t.Run("inserted with a forged link", func(t *testing.T) {
		recs := copyOf()
		forged := evidence(incident, 99)
		forged.Time = recs[3].Time
		forged.Seal(&recs[3]) // a well-formed #5 that follows #4
		recs = append(recs[:4], append([]Record{forged}, recs[4:]...)...)
		wantBroken(t, recs, 5, Inserted) // the genuine #5 now repeats a seq
	})
	t.Run("inserted out of chain", func(t *testing.T) {
		recs := copyOf()
		forged := evidence(incident, 98)
		forged.Seq, forged.PrevHash = 4, "sha256:feedface"
		forged.Hash = forged.ComputeHash()
		recs = append(recs[:3], append([]Record{forged}, recs[3:]...)...)
		wantBroken(t, recs, 4, Inserted)
	})
	t.Run("another incident's record", func(t *testing.T) {
		recs := copyOf()
		recs[8].IncidentID = "other:bot-2"
		recs[8].Hash = recs[8].ComputeHash()
		wantBroken(t, recs, 9, Inserted)
	})
	t.Run("garbage line", func(t *testing.T) {
		var buf bytes.Buffer
		_ = Export(&buf, orig[:3])
		buf.WriteString("{not json\n")
		if _, err := Import(&buf); err == nil || !bytes.Contains([]byte(err.Error()), []byte("line 4")) {
			t.Fatalf("Import = %v, want an error naming line 4", err)
		}
	})
}

// TestVerifyCatchesRewrittenSubject plays an attacker who can rewrite the
// stream (a copy of AUDIT created without DenyDelete/DenyPurge): records are
// deleted, or the incident's subject is purged and republished with one
// record changed or one added. Verify on what Load reads names the record.
func TestVerifyCatchesRewrittenSubject(t *testing.T) {
	ctx := context.Background()
	rewrite := func(t *testing.T, js jetstream.JetStream, recs []Record) {
		t.Helper()
		st, err := js.Stream(ctx, StreamName)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Purge(ctx, jetstream.WithPurgeSubject(Subject(incident))); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			b, _ := json.Marshal(r)
			if _, err := js.Publish(ctx, Subject(incident), b); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name    string
		tamper  func(t *testing.T, js jetstream.JetStream, recs []Record)
		seq     uint64
		problem Problem
	}{
		{"deleted message", func(t *testing.T, js jetstream.JetStream, recs []Record) {
			st, _ := js.Stream(ctx, StreamName)
			// Stream seq 4 is record #4: the trail was the first thing written.
			if err := st.DeleteMsg(ctx, 4); err != nil {
				t.Fatal(err)
			}
		}, 4, Removed},
		{"republished with an altered record", func(t *testing.T, js jetstream.JetStream, recs []Record) {
			recs[5].Attrs["subject"] = "breach.someone-else.x"
			rewrite(t, js, recs)
		}, 6, Altered},
		{"republished with an extra record", func(t *testing.T, js jetstream.JetStream, recs []Record) {
			extra := Skipped(incident, "revoke", "attacker says so")
			extra.Seq, extra.PrevHash, extra.Time = 3, recs[1].Hash, recs[2].Time
			extra.Hash = extra.ComputeHash()
			rewrite(t, js, append(recs[:2], append([]Record{extra}, recs[2:]...)...))
		}, 3, Inserted},
		{"garbage message", func(t *testing.T, js jetstream.JetStream, recs []Record) {
			if _, err := js.Publish(ctx, Subject(incident), []byte("rm -rf")); err != nil {
				t.Fatal(err)
			}
		}, 11, Altered},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, js := setup(t, StreamOptions{AllowRemoval: true})
			recs := trail(t, NewStore(js, WithKeys(testKeys)))
			if err := Verify(mustLoad(t, js, incident)); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			tc.tamper(t, js, recs)
			loaded, err := Load(ctx, js, incident)
			if err == nil {
				err = Verify(loaded)
			}
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Seq != tc.seq || ve.Problem != tc.problem {
				t.Fatalf("got %v, want record #%d %s", err, tc.seq, tc.problem)
			}
			t.Log(err)
		})
	}
}

func TestVerifyErrorMessageNamesTheRecord(t *testing.T) {
	recs := Chain([]Record{
		Opened(incident, OpenedFacts{Runbook: "r"}),
		evidence(incident, 1),
		evidence(incident, 2),
	})
	recs[1].Actor = "x"
	err := Verify(recs)
	if err == nil {
		t.Fatal("Verify passed an altered chain")
	}
	want := fmt.Sprintf("audit chain of %s broken at record #2 (position 2): altered: hash mismatch", incident)
	if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("error = %q, want prefix %q", got, want)
	}
}
