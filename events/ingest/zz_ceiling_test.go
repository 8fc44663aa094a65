package ingest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestZZCeiling(t *testing.T) {
	e := newEnv(t)
	body := make([]byte, 700)
	for i := range body {
		body[i] = 'a'
	}
	const n = 200000
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, err := e.js.PublishAsync(fmt.Sprintf("breach.bot-%d.key_leaked", i%1000), body); err != nil {
			t.Fatal(err)
		}
		if i%5000 == 0 {
			<-e.js.PublishAsyncComplete()
		}
	}
	<-e.js.PublishAsyncComplete()
	t.Logf("publish %v", time.Since(t0))
	for _, mode := range []string{"explicit", "none", "all"} {
		ap := jetstream.AckExplicitPolicy
		if mode == "none" {
			ap = jetstream.AckNonePolicy
		}
		if mode == "all" {
			ap = jetstream.AckAllPolicy
		}
		cons, err := e.js.CreateOrUpdateConsumer(context.Background(), StreamBreach, jetstream.ConsumerConfig{Durable: "c" + mode, AckPolicy: ap, MaxAckPending: 20000})
		if err != nil {
			t.Fatal(err)
		}
		var got atomic.Int64
		done := make(chan struct{})
		t1 := time.Now()
		cc, err := cons.Consume(func(m jetstream.Msg) {
			k := got.Add(1)
			if ap == jetstream.AckExplicitPolicy || (ap == jetstream.AckAllPolicy && k%500 == 0) {
				m.Ack()
			}
			if k == n {
				close(done)
			}
		}, jetstream.PullMaxMessages(4096))
		if err != nil {
			t.Fatal(err)
		}
		<-done
		el := time.Since(t1)
		cc.Stop()
		t.Logf("%s: %d in %v = %.0f/s", mode, n, el, n/el.Seconds())
	}
}
