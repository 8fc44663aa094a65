package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/integrations/natsdev"
)

// The stream and consumer definitions in nats/ are what operators create
// with the nats CLI before the workers start (replicas 3). The workers
// create the same objects themselves when they are absent. These tests
// make the two agree: both are created on a real JetStream server, the
// server fills in its defaults, and the resulting configs are compared
// field by field, so a change on one side only fails here.

// Settings the code-side objects are created with: the worker's defaults
// (cmd/runbook/worker.go), which the file definitions are written for.
const (
	codeEventWindow = 5 * time.Minute
	codeLimitWindow = time.Hour
)

func decodeStrict(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// loadStreamFiles decodes every nats/streams/*.json strictly.
func loadStreamFiles(t *testing.T, dir string) map[string]jetstream.StreamConfig {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no stream definitions in %s (%v)", dir, err)
	}
	out := map[string]jetstream.StreamConfig{}
	for _, f := range files {
		var c jetstream.StreamConfig
		if err := decodeStrict(f, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".json"); c.Name != want {
			t.Errorf("%s: stream name %q, want the file name %q", f, c.Name, want)
		}
		out[c.Name] = c
	}
	return out
}

// checkStreamFile holds the production rules every definition must meet.
func checkStreamFile(c jetstream.StreamConfig) []string {
	var ps []string
	if c.Replicas != 3 {
		ps = append(ps, "num_replicas is "+strconv.Itoa(c.Replicas)+", want 3 (survives the loss of one node)")
	}
	if c.Storage != jetstream.FileStorage {
		ps = append(ps, "storage is "+c.Storage.String()+", want file")
	}
	return ps
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func startJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	s, err := natsdev.Start(natsdev.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	nc, err := nats.Connect(s.URL())
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

// codeStreams creates every stream the worker creates, with its defaults,
// and returns the configs as the server stored them.
func codeStreams(t *testing.T, ctx context.Context, js jetstream.JetStream) map[string]jetstream.StreamConfig {
	t.Helper()
	if err := ingest.EnsureStreams(ctx, js); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.EnsureStream(ctx, js, audit.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.NewStreamLimiter(ctx, js, ingest.LimitConfig{Window: codeLimitWindow, Global: 50, PerExchange: 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.EnsureReplayBucket(ctx, js, codeEventWindow); err != nil {
		t.Fatal(err)
	}
	return serverConfigs(t, ctx, js)
}

func serverConfigs(t *testing.T, ctx context.Context, js jetstream.JetStream) map[string]jetstream.StreamConfig {
	t.Helper()
	out := map[string]jetstream.StreamConfig{}
	names := js.StreamNames(ctx)
	for n := range names.Name() {
		s, err := js.Stream(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		c := s.CachedInfo().Config
		// The server stamps its own version and feature level into the
		// metadata; those say which server created the stream, not what
		// the definition asks for.
		for k := range c.Metadata {
			if strings.HasPrefix(k, "_nats.") {
				delete(c.Metadata, k)
			}
		}
		if len(c.Metadata) == 0 {
			c.Metadata = nil
		}
		out[n] = c
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// diffFields names every exported field where a and b differ, skipping
// the ones listed.
func diffFields(a, b any, skip ...string) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := 0; i < va.NumField(); i++ {
		f := va.Type().Field(i)
		if !f.IsExported() || contains(skip, f.Name) {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, f.Name+": file "+jsonString(vb.Field(i).Interface())+", code "+jsonString(va.Field(i).Interface()))
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestStreamFiles_MeetProductionRules(t *testing.T) {
	for name, c := range loadStreamFiles(t, "nats/streams") {
		for _, p := range checkStreamFile(c) {
			t.Errorf("nats/streams/%s.json: %s", name, p)
		}
	}
	// Breach events come from outside the engine: their streams are
	// bounded in bytes and messages (one 3 s burst of large events once
	// wrote 4 GB), with the discard policy the code argues for.
	files := loadStreamFiles(t, "nats/streams")
	for name, discard := range map[string]jetstream.DiscardPolicy{ingest.StreamBreach: ingest.BreachDiscard, ingest.StreamDLQ: ingest.DLQDiscard} {
		c := files[name]
		if c.MaxBytes <= 0 || c.MaxMsgs <= 0 || c.MaxMsgSize <= 0 {
			t.Errorf("nats/streams/%s.json: max_bytes %d, max_msgs %d, max_msg_size %d: all must be bounded", name, c.MaxBytes, c.MaxMsgs, c.MaxMsgSize)
		}
		if c.Discard != discard {
			t.Errorf("nats/streams/%s.json: discard %s, want %s (see events/ingest/streams.go)", name, c.Discard, discard)
		}
	}
	audit := files["AUDIT"]
	if !audit.DenyDelete || !audit.DenyPurge {
		t.Errorf("AUDIT must deny delete and purge: deny_delete=%v deny_purge=%v", audit.DenyDelete, audit.DenyPurge)
	}
}

func TestStreamFiles_AgreeWithTheCode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	files := loadStreamFiles(t, "nats/streams")
	code := codeStreams(t, ctx, startJetStream(t))

	// Create the file definitions on a fresh server. A standalone test
	// server cannot hold three replicas, so the files are created with one;
	// TestStreamFiles_MeetProductionRules checks the 3.
	js := startJetStream(t)
	for _, name := range sortedKeys(files) {
		c := files[name]
		c.Replicas = 1
		if _, err := js.CreateStream(ctx, c); err != nil {
			t.Fatalf("nats stream add --config nats/streams/%s.json would fail: %v", name, err)
		}
	}
	fromFiles := serverConfigs(t, ctx, js)

	for _, name := range sortedKeys(code) {
		f, ok := fromFiles[name]
		if !ok {
			t.Errorf("the code creates stream %s but nats/streams/%s.json is missing", name, name)
			continue
		}
		for _, d := range diffFields(code[name], f, "Replicas") {
			t.Errorf("stream %s differs: %s", name, d)
		}
	}
	for _, name := range sortedKeys(fromFiles) {
		if _, ok := code[name]; !ok {
			t.Errorf("nats/streams/%s.json defines a stream the code never creates", name)
		}
	}
}

// nopStarter satisfies ingest.Config; the consumer is only created here,
// never run.
type nopStarter struct{}

func (nopStarter) StartOrSignal(context.Context, ingest.StartRequest) (ingest.StartResult, error) {
	return ingest.StartResult{}, errors.New("not used")
}

func TestConsumerFile_AgreesWithTheCode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var file jetstream.ConsumerConfig
	if err := decodeStrict("nats/consumers/BREACH/runbook-trigger.json", &file); err != nil {
		t.Fatal(err)
	}
	if file.Durable != ingest.DefaultDurable {
		t.Fatalf("durable_name %q, want %q", file.Durable, ingest.DefaultDurable)
	}

	js := startJetStream(t)
	if err := ingest.EnsureStreams(ctx, js); err != nil {
		t.Fatal(err)
	}
	_, err := ingest.NewConsumer(ctx, js, ingest.Config{
		Verifier: &breach.Verifier{},
		Starter:  nopStarter{},
		Runbooks: func() []ingest.LoadedRunbook { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	code := consumerConfig(t, ctx, js, ingest.StreamBreach, ingest.DefaultDurable)
	if err := js.DeleteConsumer(ctx, ingest.StreamBreach, ingest.DefaultDurable); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateConsumer(ctx, ingest.StreamBreach, file); err != nil {
		t.Fatalf("nats consumer add BREACH --config nats/consumers/BREACH/runbook-trigger.json would fail: %v", err)
	}
	fromFile := consumerConfig(t, ctx, js, ingest.StreamBreach, ingest.DefaultDurable)
	for _, d := range diffFields(code, fromFile) {
		t.Errorf("consumer %s differs: %s", ingest.DefaultDurable, d)
	}
}

func consumerConfig(t *testing.T, ctx context.Context, js jetstream.JetStream, stream, name string) jetstream.ConsumerConfig {
	t.Helper()
	c, err := js.Consumer(ctx, stream, name)
	if err != nil {
		t.Fatal(err)
	}
	return c.CachedInfo().Config
}

// The comparison must be able to fail: a file that drifted from the code
// (the audit stream allowing purge, a shorter dead-letter retention) is
// reported field by field.
func TestStreamDiff_CatchesDrift(t *testing.T) {
	good := audit.StreamConfig(audit.StreamOptions{})
	bad := good
	bad.DenyPurge = false
	bad.MaxAge = 24 * time.Hour
	d := diffFields(good, bad, "Replicas")
	if len(d) != 2 || !strings.HasPrefix(d[0], "MaxAge") || !strings.HasPrefix(d[1], "DenyPurge") {
		t.Fatalf("diff = %q, want MaxAge and DenyPurge", d)
	}
	var c jetstream.StreamConfig
	if err := decodeStrict("testdata/broken/streams/AUDIT.json", &c); err == nil {
		t.Fatal("a stream file with an unknown field decoded without error")
	}
}
