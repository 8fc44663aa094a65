package sms_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/sms"
)

// Both stores behave the same; the file store also survives a reopen (a
// worker restart) and keeps its file private.
func TestStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "sms.json")
	fs, err := sms.OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]interface {
		sms.SentLog
		sms.AckStore
	}{"memory": sms.NewMemoryStore(), "file": fs} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			key := sms.SentKey{Incident: "inc-1", Step: "page", Recipient: "+4915100000001"}
			if _, ok, err := st.Get(ctx, key); ok || err != nil {
				t.Fatalf("empty store: %v %v", ok, err)
			}
			rec := sms.SentRecord{Key: key, Person: "alice", MessageSID: "SM1", Status: "queued", SentAt: time.Unix(100, 0).UTC()}
			if err := st.Put(ctx, rec); err != nil {
				t.Fatal(err)
			}
			got, ok, err := st.Get(ctx, key)
			if !ok || err != nil || got.MessageSID != "SM1" || !got.SentAt.Equal(rec.SentAt) {
				t.Fatalf("get: %+v %v %v", got, ok, err)
			}
			other := key
			other.Step = "page2"
			if _, ok, _ := st.Get(ctx, other); ok {
				t.Fatal("another step's key found the record")
			}
			run2 := key
			run2.Run = "run-2"
			if _, ok, _ := st.Get(ctx, run2); ok {
				t.Fatal("another run's key found the record")
			}

			first := sms.Pending{Code: "ABCDEF", Incident: "inc-1", Step: "page", IssuedAt: time.Unix(1, 0).UTC()}
			st.Expect(ctx, first)
			st.Expect(ctx, sms.Pending{Code: "ABCDEF", Incident: "inc-1", Step: "page", IssuedAt: time.Unix(2, 0).UTC()})
			if p, ok, _ := st.Pending(ctx, "ABCDEF"); !ok || !p.IssuedAt.Equal(first.IssuedAt) {
				t.Fatalf("pending: %+v %v (a retry must not move the issue time)", p, ok)
			}
			a := sms.Answer{Code: "ABCDEF", Kind: sms.AnswerAck, Identity: "alice", MessageSID: "SMin1"}
			if dup, err := st.Record(ctx, a); dup || err != nil {
				t.Fatalf("first record: %v %v", dup, err)
			}
			if dup, _ := st.Record(ctx, a); !dup {
				t.Fatal("same inbound message recorded twice")
			}
			a.Kind, a.MessageSID = sms.AnswerApprove, "SMin2"
			if dup, _ := st.Record(ctx, a); dup {
				t.Fatal("a new answer counted as duplicate")
			}
			if got, ok, _ := st.Answer(ctx, "ABCDEF"); !ok || got.Kind != sms.AnswerApprove {
				t.Fatalf("answer: %+v %v", got, ok)
			}
		})
	}

	// A key without a run hashes as keys did before runs were recorded,
	// so records written then are still found.
	old := sha256.Sum256([]byte("inc-1\x00page\x00+4915100000001"))
	if id := (sms.SentKey{Incident: "inc-1", Step: "page", Recipient: "+4915100000001"}).ID(); id != hex.EncodeToString(old[:16]) {
		t.Fatalf("run-less key ID changed: %s", id)
	}

	reopened, err := sms.OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := reopened.Get(context.Background(), sms.SentKey{Incident: "inc-1", Step: "page", Recipient: "+4915100000001"}); !ok {
		t.Fatal("file store lost its record on reopen")
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file mode %v, %v", fi.Mode(), err)
	}
}
