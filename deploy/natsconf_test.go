package deploy

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/conf"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/ingest"
)

// The passwords the NATS configs read from the environment ($NAME). Tests
// set dummies; the conf parser fails on an unset variable.
var natsConfEnv = []string{"RUNBOOK_NATS_PASSWORD", "BREACH_PUBLISHER_PASSWORD", "NATS_SYSTEM_PASSWORD", "NATS_ADMIN_PASSWORD", "NATS_OPERATOR_PASSWORD"}

func setNATSEnv(t *testing.T) {
	for _, v := range natsConfEnv {
		t.Setenv(v, "test-"+strings.ToLower(v))
	}
}

// checkNATSConf parses one server config with nats-server's own parser and
// option loader and returns what is wrong for a node of our cluster.
func checkNATSConf(path string, clusterSize int) []string {
	raw, err := conf.ParseFile(path)
	if err != nil {
		return []string{"conf parser: " + err.Error()}
	}
	var ps []string
	js, _ := raw["jetstream"].(map[string]any)
	if js == nil {
		ps = append(ps, "no jetstream block")
	}
	if v := fmt.Sprint(js["sync_interval"]); v != "always" {
		ps = append(ps, "jetstream.sync_interval is "+v+", want always (acked writes must be on disk: Jepsen, NATS 2.12.1)")
	}
	if js["store_dir"] == nil {
		ps = append(ps, "jetstream.store_dir is not set: the store would land in a temp dir")
	}

	// The server's own loader: unknown fields, bad values and variable
	// references fail here exactly as they would at start.
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		return append(ps, "nats-server would not start: "+err.Error())
	}
	if !opts.JetStream {
		ps = append(ps, "JetStream is not enabled")
	}
	if !opts.SyncAlways && !anyContains(ps, "sync_interval") {
		ps = append(ps, "server options: SyncAlways is off")
	}
	if opts.Cluster.Name == "" || opts.Cluster.Port == 0 {
		ps = append(ps, "no cluster block with a name and a listen port")
	}
	if len(opts.Routes) < clusterSize {
		ps = append(ps, fmt.Sprintf("%d cluster routes, want all %d nodes", len(opts.Routes), clusterSize))
	}
	if opts.ServerName == "" {
		ps = append(ps, "server_name is not set: JetStream needs a stable name per node")
	}
	if opts.SystemAccount == "" {
		ps = append(ps, "no system_account: cluster events and monitoring need one")
	}
	return ps
}

func composeNATSConfs(t *testing.T) []string {
	files, err := filepath.Glob("compose/nats/nats-*.conf")
	if err != nil || len(files) != 3 {
		t.Fatalf("want three NATS configs in compose/nats, found %v (%v)", files, err)
	}
	return files
}

func TestNATSConf_Cluster(t *testing.T) {
	setNATSEnv(t)
	names := map[string]bool{}
	for _, f := range composeNATSConfs(t) {
		for _, p := range checkNATSConf(f, 3) {
			t.Errorf("%s: %s", f, p)
		}
		opts, err := server.ProcessConfigFile(f)
		if err != nil {
			continue
		}
		names[opts.ServerName] = true
		var hosts []string
		for _, r := range opts.Routes {
			hosts = append(hosts, r.Hostname())
		}
		sort.Strings(hosts)
		if got := strings.Join(hosts, ","); got != "nats-1,nats-2,nats-3" {
			t.Errorf("%s: routes to %s, want nats-1,nats-2,nats-3 (the compose service names)", f, got)
		}
	}
	if len(names) != 3 {
		t.Errorf("server names %v: each node needs its own", names)
	}
}

func TestNATSConf_BrokenCopyFails(t *testing.T) {
	setNATSEnv(t)
	ps := checkNATSConf("testdata/broken/nats.conf", 3)
	for _, w := range []string{"sync_interval", "cluster routes"} {
		if !anyContains(ps, w) {
			t.Errorf("broken nats.conf: no problem mentions %q; got %q", w, ps)
		}
	}
	// An unset password variable would stop the server: the check says so.
	t.Setenv("NATS_SYSTEM_PASSWORD", "")
	os.Unsetenv("NATS_SYSTEM_PASSWORD")
	if ps := checkNATSConf("compose/nats/nats-1.conf", 3); !anyContains(ps, "NATS_SYSTEM_PASSWORD") {
		t.Errorf("unset NATS_SYSTEM_PASSWORD: got %q", ps)
	}
}

// startComposeCluster starts the three compose configs as a real cluster
// on 127.0.0.1 (only addresses, ports and store directories rewritten) and
// returns a JetStream context of the runbook user and the servers.
func startComposeCluster(t *testing.T) (jetstream.JetStream, []*server.Server) {
	t.Helper()
	setNATSEnv(t)
	files := composeNATSConfs(t)
	clusterPorts := make([]int, len(files))
	for i := range clusterPorts {
		clusterPorts[i] = freePort(t)
	}
	var servers []*server.Server
	for i, f := range files {
		opts, err := server.ProcessConfigFile(f)
		if err != nil {
			t.Fatal(err)
		}
		opts.Host, opts.Port = "127.0.0.1", -1
		opts.HTTPPort = 0
		opts.Cluster.Host, opts.Cluster.Port = "127.0.0.1", clusterPorts[i]
		opts.Routes = nil
		for _, p := range clusterPorts {
			opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
		}
		opts.StoreDir = t.TempDir()
		opts.NoLog, opts.NoSigs = true, true
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		servers = append(servers, s)
	}
	for _, s := range servers {
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatal("a NATS node did not start")
		}
	}
	nc, err := nats.Connect(servers[0].ClientURL(), nats.UserInfo("runbook", "test-runbook_nats_password"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js, servers
}

// createWithRetry creates a stream, retrying while the cluster elects its
// JetStream meta leader.
func createWithRetry(ctx context.Context, js jetstream.JetStream, c jetstream.StreamConfig) error {
	for {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := js.CreateStream(cctx, c)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestNATSConf_ClusterRunsTheStreams starts the three compose configs as a
// real cluster on 127.0.0.1 (only addresses, ports and store directories
// are rewritten), waits for JetStream to elect a meta leader, and creates
// every stream of nats/streams with its three replicas, as the nats-setup
// job does.
func TestNATSConf_ClusterRunsTheStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	js, servers := startComposeCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	files2 := loadStreamFiles(t, "nats/streams")
	for _, name := range sortedKeys(files2) {
		if err := createWithRetry(ctx, js, files2[name]); err != nil {
			t.Fatalf("stream %s with 3 replicas on the compose cluster: %v", name, err)
		}
	}
	s, err := js.Stream(ctx, "AUDIT")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("AUDIT: replicas %d, cluster %+v: want a leader and two followers", info.Config.Replicas, info.Cluster)
	}
	// The breach publisher may publish breach events and nothing else: the
	// server reports a permissions violation for anything else.
	violations := make(chan error, 4)
	pub, err := nats.Connect(servers[1].ClientURL(), nats.UserInfo("breach-publisher", "test-breach_publisher_password"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case violations <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pjs, _ := jetstream.New(pub)
	if _, err := pjs.Publish(ctx, "breach.bot-1.key_leaked", []byte(`{}`)); err != nil {
		t.Fatalf("publisher cannot publish a breach event: %v", err)
	}
	if err := pub.Publish("audit.forged", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-violations:
		if !strings.Contains(err.Error(), "audit.forged") {
			t.Fatalf("unexpected async error %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the breach publisher wrote to the audit trail without a permissions violation")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestWorkerStartKeepsOperatorReplicas: the operator creates the streams
// with three replicas (nats-setup); a worker starting afterwards must not
// change them (events/jsutil.EnsureStream keeps the larger replica count;
// before it, a worker start scaled the R3 streams down to one replica).
func TestWorkerStartKeepsOperatorReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	js, _ := startComposeCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	files := loadStreamFiles(t, "nats/streams")
	for _, name := range []string{"AUDIT", "BREACH", "BREACH_DLQ"} {
		if err := createWithRetry(ctx, js, files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := audit.EnsureStream(ctx, js, audit.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ingest.EnsureStreams(ctx, js); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"AUDIT", "BREACH", "BREACH_DLQ"} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if r := st.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("%s has %d replicas after a worker started, want the operator's 3", name, r)
		}
	}
}
