package audit

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testNATS is an embedded nats-server with JetStream on a random loopback
// port and a temporary file store.
type testNATS struct {
	srv *server.Server
	url string
}

func startNATS(t testing.TB) *testNATS {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(srv.Shutdown)
	return &testNATS{srv: srv, url: srv.ClientURL()}
}

// connect opens a new connection: each stands for one worker process.
func (n *testNATS) connect(t testing.TB) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(n.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// setup starts a server with the AUDIT stream and returns a JetStream handle.
func setup(t *testing.T, o StreamOptions) (*testNATS, jetstream.JetStream) {
	t.Helper()
	n := startNATS(t)
	js := n.connect(t)
	if _, err := EnsureStream(context.Background(), js, o); err != nil {
		t.Fatal(err)
	}
	return n, js
}

// rawStream returns every byte stored in the AUDIT stream (subjects,
// headers, data), for scans that must not rely on decoding.
func rawStream(t *testing.T, js jetstream.JetStream) []byte {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted
		}
		out = append(out, m.Subject...)
		for k, vs := range m.Header {
			out = append(out, k...)
			for _, v := range vs {
				out = append(out, v...)
			}
		}
		out = append(out, m.Data...)
	}
	return out
}

// Given a server that allows 100 consumers per stream (its default is
// 1,000) and 20 incidents with audit trails,
// When 300 reads of those trails run at once (a mass breach closing many
// incidents, each read an ephemeral consumer),
// Then every read succeeds: reads wait for one of the process's read
// slots and delete their consumer when done, so they stay under the
// server's consumer limit instead of failing at it.
func TestConcurrentReadsStayUnderTheConsumerLimit(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, JetStreamLimits: server.JSLimitOpts{DefaultMaxConsumers: 100}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(srv.Shutdown)
	js := (&testNATS{srv: srv, url: srv.ClientURL()}).connect(t)
	if _, err := EnsureStream(context.Background(), js, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	store := NewStore(js, WithKeys(testKeys))
	ctx := context.Background()
	for i := range 20 {
		id := fmt.Sprintf("contain-key-breach:bot-%d", i)
		if _, err := store.Append(ctx, StepFact(id, "freeze", StepStarted, 1, false, nil)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for i := range 300 {
		wg.Go(func() {
			recs, err := Load(ctx, js, fmt.Sprintf("contain-key-breach:bot-%d", i%20))
			if err == nil && len(recs) != 1 {
				err = fmt.Errorf("read %d records, want 1", len(recs))
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// testKeys is the audit keyring of these tests (audittest.Keys for
// packages outside audit: audittest imports audit).
var testKeys = func() Keys {
	k, err := ParseKeys("test-a="+base64.StdEncoding.EncodeToString([]byte("audit key a for tests, 32+ bytes long")), "")
	if err != nil {
		panic(err)
	}
	return k
}()
