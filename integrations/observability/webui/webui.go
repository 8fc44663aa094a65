// Package webui serves the Temporal Web UI for `runbook dev`, in process,
// with github.com/temporalio/ui-server/v2 (v2.53.3: the newest release
// that builds with go.temporal.io/server v1.32.0 / api v1.63.5 and the
// project's Go 1.26.8 without changing any other module version). Incidents
// are workflows: the UI lists them, shows their history, and filters them
// by the RunbookName, BotID, Exchange, Severity and IncidentTrigger search
// attributes.
package webui

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// Options configure the UI server.
type Options struct {
	// TemporalAddress is the frontend's gRPC host:port.
	TemporalAddress string
	// Namespace opens by default.
	Namespace string
	// Addr is where the UI listens (host:port; port 0 picks one). Default
	// 127.0.0.1:8233, the port the Temporal CLI's dev server uses.
	Addr string
}

// Server is a running UI.
type Server struct {
	ui  *uiserver.Server
	url string
}

// staticConfig hands the UI server a fixed config.
type staticConfig struct{ c *uiconfig.Config }

func (s staticConfig) GetConfig() (*uiconfig.Config, error) { return s.c, nil }

// Start serves the UI and returns once it answers. The ui-server package
// ends the process (log.Fatal) when its listen fails, so Start first makes
// sure the port is free and returns an error instead.
func Start(o Options) (*Server, error) {
	if o.TemporalAddress == "" {
		return nil, errors.New("webui: TemporalAddress is required")
	}
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:8233"
	}
	host, port, err := reserve(addr)
	if err != nil {
		return nil, err
	}
	cfg := &uiconfig.Config{
		TemporalGRPCAddress: o.TemporalAddress,
		Host:                host,
		Port:                port,
		EnableUI:            true,
		DefaultNamespace:    o.Namespace,
		HideLogs:            true,
		// Plain HTTP on a local port: the CSRF cookie must not be
		// Secure-only or the browser would never send it back and every
		// action (approve an incident, cancel a workflow) would be refused.
		CORS:             uiconfig.CORS{CookieInsecure: true},
		DisableNewsFetch: true,
	}
	s := &Server{
		ui:  uiserver.NewServer(uioptions.WithConfigProvider(staticConfig{cfg})),
		url: "http://" + net.JoinHostPort(host, strconv.Itoa(port)),
	}
	go func() { _ = s.ui.Start() }()
	if err := s.waitReady(10 * time.Second); err != nil {
		s.ui.Stop()
		return nil, err
	}
	return s, nil
}

// reserve resolves addr to a host and a port that is free right now.
func reserve(addr string) (string, int, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", 0, fmt.Errorf("webui: cannot listen on %s: %w", addr, err)
	}
	a := l.Addr().(*net.TCPAddr)
	l.Close()
	host, _, _ := net.SplitHostPort(addr)
	if host == "" {
		host = "0.0.0.0"
	}
	return host, a.Port, nil
}

// waitReady polls /healthz until the UI answers; the server starts
// listening in its own goroutine.
func (s *Server) waitReady(limit time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for {
		resp, err := c.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("webui: not answering on %s after %s: %v", s.url, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL is the UI's base URL.
func (s *Server) URL() string { return s.url }

// Stop closes the UI server.
func (s *Server) Stop() { s.ui.Stop() }
