package breach

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary subjects and bodies to the decoder and the
// verifier. Whatever comes in, they must not panic, every refusal must carry
// a reason, Decode and Map must agree with the four-pass reference decoder
// (decodeReference: same refusal detail, same Event, canonical bytes and
// map), and an accepted event must survive a re-encode unchanged in
// meaning. Seeds live in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add("breach.bot-7.key_leaked", signed(f, sample(), "k2"))
	f.Add("breach.bot-7.key_leaked", []byte(`{"specversion":"1.0"}`))
	f.Add("breach.binance.account_leaked", signed(f, accountSample(), "k2"))
	kr := testKeyring(f)
	v := &Verifier{Keys: kr, Replay: &MemoryReplayGuard{}, AllowUnsigned: []string{"breach.drill"}}
	f.Fuzz(func(t *testing.T, subject string, body []byte) {
		sameAsReference(t, subject, body)
		ev, err := Decode(subject, body)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("refusal without a reason: %v", err)
			}
			return
		}
		if err := v.Verify(context.Background(), ev, Delivery{Subject: subject, ArrivedAt: ev.Time.Add(time.Second), StreamSeq: 1}); err != nil && ReasonOf(err) == "" {
			t.Fatalf("verify refusal without a reason: %v", err)
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		ev2, err := Decode(subject, again)
		if err != nil {
			t.Fatalf("accepted event does not decode after re-encoding: %v\n%s", err, again)
		}
		if ev2.ID != ev.ID || ev2.NATSSubject() != ev.NATSSubject() || ev2.Data.KeyID != ev.Data.KeyID || !ev2.Time.Equal(ev.Time) {
			t.Fatalf("re-encode changed the event: %+v vs %+v", ev, ev2)
		}
	})
}
