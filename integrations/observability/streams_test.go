package observability

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
)

// What an operator's Prometheus sees when BREACH fills up on a real
// JetStream server: the publish beyond the limit is refused and counted,
// the stream shows at its limit, and BREACH_DLQ's drops are counted.
func TestStreamMetrics_BreachFullAndDLQDrops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	js := startNATS(t)
	if err := ingest.EnsureStreamsWith(ctx, js, ingest.StorageLimits{BreachMaxBytes: 1 << 20, DLQMaxMsgs: 2}); err != nil {
		t.Fatal(err)
	}
	w := ingest.NewCapacityWatcher(js, time.Hour, nil)
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	keys := breach.Keyring{"k1": []byte("0123456789abcdef0123456789abcdef")}
	before := ingest.PublishRefused()
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		ev := breach.New("/test", "key_leaked", breach.Data{Bot: "bot-" + strconv.Itoa(i), Exchange: "binance", KeyID: "AK", Severity: breach.SeverityHigh,
			Source: "test", Evidence: map[string]any{"pad": strings.Repeat("x", 40<<10)}}, time.Now())
		ev, _ = breach.Sign(ev, keys, "k1")
		_, err = ingest.Publish(ctx, js, ev)
	}
	if !errors.Is(err, ingest.ErrStreamFull) {
		t.Fatalf("publish error %v, want ErrStreamFull", err)
	}
	// Three dead letters into a DLQ that holds two (written as the
	// consumer writes them: on dlq.breach.>).
	for i := 0; i < 3; i++ {
		m := nats.NewMsg("dlq.breach.bot-1.key_leaked")
		m.Data = []byte("dead letter " + strconv.Itoa(i))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}

	m := NewMetrics()
	m.Registry().MustRegister(StreamCollector(w.Usage, ingest.PublishRefused))
	srv, err := Serve("127.0.0.1:0", Handler(m, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	fams := scrape(t, "http://"+srv.Addr()+"/metrics")

	if v := counterValue(t, fams, "runbook_breach_publish_refused_total", nil); v != float64(ingest.PublishRefused()) || v < float64(before+1) {
		t.Errorf("publish refused = %v, want at least %d", v, before+1)
	}
	gauge := func(name string, labels map[string]string) float64 {
		s := sample(fams, name, labels)
		if s == nil || s.Gauge == nil {
			t.Fatalf("no gauge %s%v", name, labels)
		}
		return s.Gauge.GetValue()
	}
	if v := gauge("runbook_stream_at_limit", map[string]string{"stream": "BREACH", "discard": "new"}); v != 1 {
		t.Errorf("BREACH at limit = %v, want 1", v)
	}
	if v := gauge("runbook_stream_fill_ratio", map[string]string{"stream": "BREACH"}); v < 0.9 || v > 1 {
		t.Errorf("BREACH fill = %v, want >= 0.9", v)
	}
	if v := gauge("runbook_stream_max_bytes", map[string]string{"stream": "BREACH"}); v != 1<<20 {
		t.Errorf("BREACH max bytes = %v", v)
	}
	if v := counterValue(t, fams, "runbook_stream_discarded_total", map[string]string{"stream": "BREACH_DLQ"}); v != 1 {
		t.Errorf("DLQ discarded = %v, want 1", v)
	}
	if v := counterValue(t, fams, "runbook_stream_discarded_total", map[string]string{"stream": "BREACH"}); v != 0 {
		t.Errorf("BREACH discarded = %v, want 0 (discard new never drops)", v)
	}
}
