package main

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/cmd/runbook/config"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/natsauth"
)

// connectNATS connects a CLI verb to the engine's NATS as role, with
// credentials from the config file and the environment (never from the
// command line), else the dev engine's user for that role.
func (g *globals) connectNATS(ctx context.Context, role natsauth.Role) (*nats.Conn, jetstream.JetStream, error) {
	url := g.resolved().NATS
	opts, err := g.natsConn("runbook-cli")
	if err != nil {
		return nil, nil, err
	}
	return dialJetStream(withDevCredential(opts, g.homeDir(), role), url)
}

// dialJetStream connects with opts and opens JetStream on the connection.
func dialJetStream(opts ingest.ConnOptions, url string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := ingest.Connect(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach NATS at %s: %w\nIs `runbook dev` running? Or pass --nats-url / RUNBOOK_NATS_URL", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// connectPublisher connects as a named lane publisher: the configured
// credential, or in dev that publisher's seed.
func (g *globals) connectPublisher(name string) (*nats.Conn, jetstream.JetStream, error) {
	if err := ingest.ValidPublisherName(name); err != nil {
		return nil, nil, fmt.Errorf("--publisher: %w", err)
	}
	opts, err := g.natsConn("runbook-cli")
	if err != nil {
		return nil, nil, err
	}
	if !hasCredential(opts) {
		seed := natsauth.PublisherSeedFile(devNATSUsersDir(g.homeDir()), name)
		if _, err := os.Stat(seed); err != nil {
			return nil, nil, fmt.Errorf("--publisher %s: no credential configured and no dev seed %s (is it in events.publishers?)", name, seed)
		}
		opts.NKeyFile = seed
	}
	return dialJetStream(opts, g.resolved().NATS)
}

// natsConn is how this process reaches NATS: the effective URL and the
// config's nats block (environment overrides already applied by
// config.ApplyEnv: RUNBOOK_NATS_CREDS, _NKEY, _USER + _PASSWORD, _TOKEN).
func (g *globals) natsConn(name string) (ingest.ConnOptions, error) {
	return natsConnOptions(g.mustCfg().NATS, g.resolved().NATS, name, os.Getenv)
}

// natsConnOptions applies every NATS transport setting or says which one
// cannot be applied. It replaces the bug where only RUNBOOK_NATS_* variables
// were read: a config with creds_file connected with no JWT at all, and the
// Kubernetes manifests sent a password with no user.
func natsConnOptions(n config.NATS, url, name string, getenv func(string) string) (ingest.ConnOptions, error) {
	o := ingest.ConnOptions{URL: url, Name: name, CredsFile: n.CredsFile, NKeyFile: n.NKeyFile, User: n.User}
	// Credentials in the URL would be printed with it (banners, errors,
	// config check) and slip past the one-method rule.
	for _, u := range strings.Split(url, ",") {
		if pu, err := neturl.Parse(strings.TrimSpace(u)); err == nil && pu.User != nil {
			return o, errors.New("nats.url: holds credentials (user:password@): use nats.user + nats.password_env, a creds or nkey file, or nats.token_env")
		}
	}
	var methods []string
	for _, f := range []struct {
		field, path string
	}{{"nats.creds_file", n.CredsFile}, {"nats.nkey_file", n.NKeyFile}} {
		if f.path == "" {
			continue
		}
		methods = append(methods, f.field)
		// Read now so the refusal names the setting; the client reads the
		// file again on every (re)connect.
		if _, err := os.ReadFile(f.path); err != nil {
			return o, fmt.Errorf("%s: %w", f.field, err)
		}
	}
	if n.User != "" {
		methods = append(methods, "nats.user")
		if n.PasswordEnv == "" {
			return o, fmt.Errorf("nats.password_env: user %q is set: name the environment variable holding the password", n.User)
		}
		if o.Password = getenv(n.PasswordEnv); o.Password == "" {
			return o, fmt.Errorf("nats.password_env: %s is not set", n.PasswordEnv)
		}
	} else if n.PasswordEnv != "" {
		return o, fmt.Errorf("nats.password_env: set without nats.user: the server would see a password with no user")
	}
	if n.TokenEnv != "" {
		methods = append(methods, "nats.token_env")
		if o.Token = getenv(n.TokenEnv); o.Token == "" {
			return o, fmt.Errorf("nats.token_env: %s is not set", n.TokenEnv)
		}
	}
	if len(methods) > 1 {
		return o, fmt.Errorf("nats: use one of creds_file, nkey_file, user+password_env, token_env (got %s)", strings.Join(methods, ", "))
	}
	if len(methods) == 0 && getenv("RUNBOOK_NATS_PASSWORD") != "" {
		return o, fmt.Errorf("RUNBOOK_NATS_PASSWORD is set but no NATS user (nats.user or RUNBOOK_NATS_USER): the server would see a password with no user")
	}
	tlsCfg, err := n.TLS.ClientConfig("nats.tls")
	if err != nil {
		return o, err
	}
	o.TLS = tlsCfg
	return o, nil
}
