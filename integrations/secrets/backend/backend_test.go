package backend

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/integrations/natsdev"
	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/integrations/secrets/natskv"
	"github.com/keyresponse/runbook/integrations/secrets/vault"
	"github.com/keyresponse/runbook/integrations/secrets/vault/vaultsim"
)

// roundTrip proves the opened store is the configured backend and works.
func roundTrip(t *testing.T, s secrets.Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Put(ctx, "bot-1/api", []byte("value-1234"), nil); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, secrets.Ref{Name: "bot-1/api"}); err != nil || string(v) != "value-1234" {
		t.Fatalf("get = %q, %v", v, err)
	}
}

func TestOpenEachBackend(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, secrets.Config{}, Deps{DefaultDir: dir})
	if _, ok := s.(*secrets.FileStore); err != nil || !ok {
		t.Fatalf("default backend: %T %v", s, err)
	}
	roundTrip(t, s)

	sim := vaultsim.New("tok-abc", "secret")
	srv := httptest.NewServer(sim)
	defer srv.Close()
	env := map[string]string{"MY_VAULT_TOKEN": "tok-abc"}
	s, err = Open(ctx, secrets.Config{Backend: "vault", VaultAddress: srv.URL, VaultTokenEnv: "MY_VAULT_TOKEN"},
		Deps{Getenv: func(k string) string { return env[k] }})
	if _, ok := s.(*vault.Store); err != nil || !ok {
		t.Fatalf("vault backend: %T %v", s, err)
	}
	roundTrip(t, s)
	if sim.Writes() != 1 {
		t.Fatalf("vault simulator saw %d writes", sim.Writes())
	}
	if _, err := Open(ctx, secrets.Config{Backend: "vault", VaultAddress: srv.URL}, Deps{Getenv: func(string) string { return "" }}); err == nil ||
		!strings.Contains(err.Error(), "VAULT_TOKEN") {
		t.Fatalf("vault without token: %v", err)
	}

	ns, err := natsdev.Start(natsdev.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Stop()
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err = Open(ctx, secrets.Config{Backend: "nats-kv", KeyFile: filepath.Join(dir, "kv.key"), Bucket: "sec"}, Deps{JetStream: js})
	if _, ok := s.(*natskv.Store); err != nil || !ok {
		t.Fatalf("nats-kv backend: %T %v", s, err)
	}
	roundTrip(t, s)
	if _, err := js.KeyValue(ctx, "sec"); err != nil {
		t.Fatalf("bucket not created: %v", err)
	}
	if _, err := Open(ctx, secrets.Config{Backend: "nats-kv"}, Deps{}); err == nil {
		t.Fatal("nats-kv without a connection")
	}
	if _, err := Open(ctx, secrets.Config{Backend: "s3"}, Deps{}); err == nil {
		t.Fatal("unknown backend accepted")
	}
}
