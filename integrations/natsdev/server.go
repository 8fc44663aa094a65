// Package natsdev runs an embedded nats-server with JetStream on a file store,
// for `runbook dev` and tests. Production uses an external NATS cluster.
package natsdev

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure the embedded server.
type Options struct {
	Host string // default 127.0.0.1
	Port int    // 0 picks a free port; -1 is not accepted
	// StoreDir holds JetStream's file store; it survives restarts.
	StoreDir string
	// SyncAlways fsyncs every JetStream write (slower, but no acknowledged
	// write is lost on power failure); the default fsyncs every 2 minutes.
	SyncAlways bool
	// Config is nats-server configuration text applied first (accounts,
	// users, permissions: `runbook dev` passes events/natsauth's policy);
	// the fields above override it. Empty: no authentication (tests of one
	// package that own their server).
	Config string
}

// Server is a running embedded NATS server.
type Server struct{ ns *server.Server }

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if o.StoreDir == "" {
		return nil, fmt.Errorf("natsdev: StoreDir is required (JetStream file store)")
	}
	if err := os.MkdirAll(o.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("natsdev: store dir: %w", err)
	}
	if o.Port > 0 {
		// nats-server only logs a failed bind; check first so the error says why.
		l, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
		if err != nil {
			return nil, fmt.Errorf("natsdev: port %d: %w", o.Port, err)
		}
		l.Close()
	}
	opts := &server.Options{}
	if o.Config != "" {
		if err := opts.ProcessConfigString(o.Config); err != nil {
			return nil, fmt.Errorf("natsdev: server configuration: %w", err)
		}
	}
	opts.ServerName = "runbook-dev"
	opts.Host = o.Host
	opts.Port = port
	opts.JetStream = true
	opts.StoreDir = o.StoreDir
	opts.NoSigs = true
	opts.NoLog = true
	opts.MaxPayload = 1 << 20
	if o.SyncAlways {
		opts.SyncAlways = true
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsdev: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("natsdev: server on %s:%d not ready after 10s", o.Host, o.Port)
	}
	return &Server{ns: ns}, nil
}

// URL is the client URL (nats://host:port).
func (s *Server) URL() string { return s.ns.ClientURL() }

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}
