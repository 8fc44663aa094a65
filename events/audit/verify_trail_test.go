package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// wantTrailBroken runs VerifyTrail and wants record #seq named as p, with
// the message holding every fragment of want.
func wantTrailBroken(t *testing.T, recs []Record, o VerifyOptions, seq uint64, p Problem, want ...string) {
	t.Helper()
	_, err := VerifyTrail(recs, o)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Seq != seq || ve.Problem != p {
		t.Fatalf("VerifyTrail = %v, want record #%d %s", err, seq, p)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("VerifyTrail = %q, want it to say %q", err, w)
		}
	}
	t.Log(err)
}

// attackerAppend publishes rec on the incident's subject exactly as
// someone with publish access to audit.* but without the audit key would:
// a plausible unkeyed chain link after the stream's last record.
func attackerAppend(t *testing.T, js jetstream.JetStream, rec Record, sign func(*Record)) Record {
	t.Helper()
	ctx := context.Background()
	recs := mustLoad(t, js, incident)
	last := recs[len(recs)-1]
	rec.Run, rec.Time = last.Run, last.Time.Add(1e9)
	rec.Seal(&last)
	if sign != nil {
		sign(&rec)
	}
	b, _ := json.Marshal(rec)
	if _, err := js.Publish(ctx, Subject(incident), b); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestGenuineTrailVerifies(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	trail(t, NewStore(js, WithKeys(testKeys)))
	recs := mustLoad(t, js, incident)
	res, err := VerifyTrail(recs, VerifyOptions{Keys: testKeys.Ring, Heads: []Head{HeadOf(recs[9])}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 10 || res.Legacy != 0 || strings.Join(res.KeyIDs, ",") != "test-a" || res.Heads != 1 {
		t.Fatalf("result %+v", res)
	}
	// The export verifies the same way.
	if _, err := VerifyTrail(roundTrip(t, recs), VerifyOptions{Keys: testKeys.Ring}); err != nil {
		t.Fatalf("exported copy: %v", err)
	}
	// Without the keyring nothing is claimed.
	if _, err := VerifyTrail(recs, VerifyOptions{}); err == nil || !strings.Contains(err.Error(), "no audit keys") {
		t.Fatalf("no keys: %v", err)
	}
}

func TestForgedAppendThroughNATSIsNamed(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	trail(t, NewStore(js, WithKeys(testKeys)))
	forged := ApprovalDecided(incident, "revoke", "mallory@evil", "looks fine", true)
	attackerAppend(t, js, forged, nil)
	recs := mustLoad(t, js, incident)
	if err := Verify(recs); err != nil {
		t.Fatalf("the forged link is structurally perfect, Verify should pass it (that is the attack): %v", err)
	}
	wantTrailBroken(t, recs, VerifyOptions{Keys: testKeys.Ring}, 11, Unauthenticated,
		"record #11", "not authenticated by the engine", "approval.granted", "mallory@evil")

	// A MAC under a key id the engine does not hold, and one under the
	// engine's key id computed with a guessed secret.
	for name, sign := range map[string]func(*Record){
		"unknown key id": func(r *Record) {
			k, _ := ParseKeys("attacker="+base64.StdEncoding.EncodeToString([]byte("the attacker's own key, 32 bytes+")), "")
			_ = k.sign(r)
		},
		"mac does not match": func(r *Record) {
			k, _ := ParseKeys("test-a="+base64.StdEncoding.EncodeToString([]byte("a guess at the engine's key......")), "")
			_ = k.sign(r)
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, js := setup(t, StreamOptions{})
			trail(t, NewStore(js, WithKeys(testKeys)))
			attackerAppend(t, js, forged, sign)
			wantTrailBroken(t, mustLoad(t, js, incident), VerifyOptions{Keys: testKeys.Ring}, 11, Unauthenticated, name)
		})
	}
}

func TestEngineAppendAfterAForgedRecordStillNamesTheForgery(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	s := NewStore(js, WithKeys(testKeys))
	trail(t, s)
	attackerAppend(t, js, Skipped(incident, "revoke", "attacker says so"), nil)
	mustAppend(t, s, Closed(incident, "succeeded", "")) // the engine chains onto it
	wantTrailBroken(t, mustLoad(t, js, incident), VerifyOptions{Keys: testKeys.Ring}, 11, Unauthenticated, "step.skipped")
}

func TestAlteredAndRemovedRecordsAreNamed(t *testing.T) {
	ctx := context.Background()
	rewrite := func(t *testing.T, js jetstream.JetStream, recs []Record) {
		t.Helper()
		st, _ := js.Stream(ctx, StreamName)
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
		tamper  func(recs []Record) []Record
		heads   func(recs []Record) []Head
		seq     uint64
		problem Problem
		says    string
	}{
		{"altered, hash left", func(recs []Record) []Record {
			recs[5].Attrs["subject"] = "breach.someone-else.x"
			return recs
		}, nil, 6, Altered, "hash mismatch"},
		{"altered and re-hashed down the chain", func(recs []Record) []Record {
			recs[5].Attrs["subject"] = "breach.someone-else.x"
			for i := 5; i < len(recs); i++ { // keep prev_hash/hash consistent, keep the old MACs
				recs[i].PrevHash = recs[i-1].Hash
				recs[i].Hash = recs[i].ComputeHash()
			}
			return recs
		}, nil, 6, Unauthenticated, "mac does not match"},
		{"removed from the middle", func(recs []Record) []Record {
			return append(recs[:3:3], recs[4:]...)
		}, nil, 4, Removed, "missing"},
		{"removed from the end", func(recs []Record) []Record {
			return recs[:7]
		}, func(recs []Record) []Head { return []Head{HeadOf(recs[2]), HeadOf(recs[9])} }, 8, Removed, "recorded the chain head at #10"},
		{"replaced at the head", func(recs []Record) []Record {
			return recs // the stream is intact, but Temporal recorded another #10
		}, func(recs []Record) []Head {
			h := HeadOf(recs[9])
			h.Hash = "sha256:0000"
			return []Head{h}
		}, 10, Altered, "replaced"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, js := setup(t, StreamOptions{AllowRemoval: true})
			recs := trail(t, NewStore(js, WithKeys(testKeys)))
			var heads []Head
			if tc.heads != nil {
				heads = tc.heads(recs)
			}
			rewrite(t, js, tc.tamper(roundTrip(t, recs)))
			wantTrailBroken(t, mustLoad(t, js, incident), VerifyOptions{Keys: testKeys.Ring, Heads: heads}, tc.seq, tc.problem, tc.says)
		})
	}
}

func TestRecordsAfterTheCloseHeadAreNamed(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	s := NewStore(js, WithKeys(testKeys))
	trail(t, s)
	closed := mustAppend(t, s, Closed(incident, "succeeded", ""))
	// Even a record the engine's key signed (a replayed late write, or a
	// stolen key) must not extend a run past the close Temporal recorded.
	late := evidence(incident, 99)
	late.Run = closed.Run
	mustAppend(t, s, late)
	wantTrailBroken(t, mustLoad(t, js, incident), VerifyOptions{Keys: testKeys.Ring, Heads: []Head{HeadOf(closed)}},
		12, AfterClose, "follows the incident's close at #11")
}

func TestKeyRotation(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	a := testKeys
	bSecret := base64.StdEncoding.EncodeToString([]byte("audit key b for tests, 32+ bytes long"))
	aSecret := base64.StdEncoding.EncodeToString(a.Ring["test-a"])
	both, err := ParseKeys("test-a="+aSecret+"\ntest-b="+bSecret, "test-b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKeys("test-a="+aSecret+"\ntest-b="+bSecret, ""); err == nil || !strings.Contains(err.Error(), "signing key id") {
		t.Fatalf("two keys, none named: %v", err)
	}
	trail(t, NewStore(js, WithKeys(a)))
	mustAppend(t, NewStore(js, WithKeys(both)), Closed(incident, "succeeded", ""))
	recs := mustLoad(t, js, incident)
	res, err := VerifyTrail(recs, VerifyOptions{Keys: both.Ring})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.KeyIDs, ",") != "test-a,test-b" || recs[10].KeyID != "test-b" {
		t.Fatalf("key ids %v, last record's %q", res.KeyIDs, recs[10].KeyID)
	}
	// Key a dropped from the ring too early: its records are named.
	onlyB, _ := ParseKeys("test-b="+bSecret, "")
	wantTrailBroken(t, recs, VerifyOptions{Keys: onlyB.Ring}, 1, Unauthenticated, `unknown key id "test-a"`)
}

func TestLegacyTrailIsReportedAsUnauthenticated(t *testing.T) {
	recs := Chain(trailFacts()) // as written before audit keys
	wantTrailBroken(t, recs, VerifyOptions{Keys: testKeys.Ring}, 1, Legacy, "records 1-10 carry no mac", "--allow-unauthenticated")
	res, err := VerifyTrail(recs, VerifyOptions{Keys: testKeys.Ring, AllowLegacy: true})
	if err != nil || res.Legacy != 10 {
		t.Fatalf("accepted legacy: %+v %v", res, err)
	}
	// Signed records after the legacy run (the engine was upgraded
	// mid-incident) are authenticated; an unsigned one after them is not.
	last := recs[len(recs)-1]
	signed := Closed(incident, "succeeded", "")
	if err := signed.SealSigned(&last, testKeys); err != nil {
		t.Fatal(err)
	}
	mixed := append(recs, signed)
	if res, err := VerifyTrail(mixed, VerifyOptions{Keys: testKeys.Ring, AllowLegacy: true}); err != nil || res.Legacy != 10 {
		t.Fatalf("legacy then signed: %+v %v", res, err)
	}
	forged := Skipped(incident, "x", "y")
	forged.Seal(&mixed[len(mixed)-1])
	wantTrailBroken(t, append(mixed, forged), VerifyOptions{Keys: testKeys.Ring, AllowLegacy: true}, 12, Unauthenticated, "follows engine-signed records")
	// Readers still work on a legacy trail.
	if v := Project(recs); v.IncidentID != incident {
		t.Fatalf("projection of a legacy trail: %+v", v)
	}
}

func TestStoreRefusesToWriteWithoutKeys(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	_, err := NewStore(js).Append(context.Background(), evidence(incident, 1))
	if err == nil || !strings.Contains(err.Error(), "no audit signing key") {
		t.Fatalf("Append without keys = %v", err)
	}
}

func trailFacts() []Record {
	facts := []Record{Opened(incident, OpenedFacts{Runbook: "contain-key-breach", RunbookHash: "sha256:00", Trigger: "event"})}
	for i := 1; i < 10; i++ {
		facts = append(facts, evidence(incident, i))
	}
	return facts
}
