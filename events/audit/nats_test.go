package audit

import (
	"context"
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
