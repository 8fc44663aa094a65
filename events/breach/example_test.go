package breach

import (
	"context"
	"os"
	"testing"
	"time"
)

// The signed example in README.md (testdata/example-event.json, demo key
// "demo-key-do-not-use-in-production!!") must stay valid: it is also what
// the jq + openssl recipe in the README reproduces.
func TestReadmeExampleVerifies(t *testing.T) {
	body, err := os.ReadFile("testdata/example-event.json")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := Decode("breach.grid-btc-01.key_leaked", body)
	if err != nil {
		t.Fatal(err)
	}
	kr := Keyring{}
	if err := kr.Add("demo-2026-11", []byte("demo-key-do-not-use-in-production!!")); err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Keys: kr}
	if err := v.Verify(context.Background(), ev, Delivery{Subject: "breach.grid-btc-01.key_leaked", ArrivedAt: ev.Time.Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
}
