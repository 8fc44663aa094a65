package breach

import (
	"bytes"
	"context"
	"testing"
)

// The benchmarks measure the consumer's CPU path per event; the KV replay
// round trip and NATS are not included (see events/ingest for those).
//
//	go test -run XXX -bench Decode -benchmem ./events/breach

// BenchmarkDecode is Decode alone: size check, strict parse, secret scan,
// JSON Schema, typed event and canonical bytes.
func BenchmarkDecode(b *testing.B) {
	body := signed(b, sample(), "k2")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode("breach.bot-7.key_leaked", body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeMap is Decode plus Event.Map, which the consumer needs for
// trigger conditions and the workflow input.
func BenchmarkDecodeMap(b *testing.B) {
	body := signed(b, sample(), "k2")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := Decode("breach.bot-7.key_leaked", body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ev.Map(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAndVerify is the whole per-event CPU path of the trigger
// consumer before matching: Decode, HMAC-SHA256 check, window, an in-memory
// replay claim (same stream sequence each round, so the redelivery path) and
// Map.
func BenchmarkDecodeAndVerify(b *testing.B) {
	body := signed(b, sample(), "k2")
	v := &Verifier{Keys: testKeyring(b), Replay: &MemoryReplayGuard{}}
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := Decode("breach.bot-7.key_leaked", body)
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Verify(ctx, ev, Delivery{ArrivedAt: t0, StreamSeq: 1}); err != nil {
			b.Fatal(err)
		}
		if _, err := ev.Map(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEscaped is Decode of an event with a string escape (Go's
// encoder writes & as \u0026): the one-pass parser leaves it to
// json.Decoder plus the structure scan.
func BenchmarkDecodeEscaped(b *testing.B) {
	ev := sample()
	ev.Data.Evidence["url"] = "https://example.test/alerts?id=7&rule=key"
	body := signed(b, ev, "k2")
	if !bytes.Contains(body, []byte(`\u0026`)) {
		b.Fatalf("no escape in %s", body)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode("breach.bot-7.key_leaked", body); err != nil {
			b.Fatal(err)
		}
	}
}
