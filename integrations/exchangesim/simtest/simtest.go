// Package simtest starts the exchange simulator for tests and sends raw
// HTTP requests to it from a chosen loopback address (the simulator's IP
// whitelist checks the TCP peer). Only tests import it.
package simtest

import (
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// Start runs a simulator with opts on a free loopback port, seeds the demo
// accounts and returns the one for the exchange name; it stops with t.
func Start(t *testing.T, opts exchangesim.Options, demo exchangesim.DemoOptions, name string) (*exchangesim.Sim, exchangesim.DemoAccount) {
	t.Helper()
	sim := exchangesim.New(opts)
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	demos, err := sim.SeedDemo(demo)
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := demos.Find(name)
	return sim, acc
}

// ClientFrom is an HTTP client whose connections originate from ip; no
// keep-alives, so each request is a fresh connection from that address.
func ClientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// Send sends r from the address from ("" = 127.0.0.1) and returns the
// answer's status and body.
func Send(t *testing.T, r *http.Request, from string) (int, []byte) {
	t.Helper()
	if from == "" {
		from = "127.0.0.1"
	}
	resp, err := ClientFrom(from).Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
