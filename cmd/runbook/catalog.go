package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/activities/core"
	"github.com/keyresponse/runbook/activities/httpreq"
)

// actionDeps are the live dependencies actions need. A zero value is enough
// to build the catalog for validate/plan, which never run an action.
type actionDeps struct {
	console      io.Writer
	allowedHosts []string
}

// buildRegistry is the explicit list of every action the engine ships.
// Later capabilities (exchange, bot, secrets, sms) add their lists here.
func buildRegistry(d actionDeps) (*activities.Registry, error) {
	if d.console == nil {
		d.console = io.Discard
	}
	list := []activities.Action{
		core.Wait(),
		core.Console(d.console),
		httpreq.New(httpreq.Config{AllowedHosts: d.allowedHosts}),
	}
	return activities.NewRegistry(list...)
}

// catalog returns the registry for validation and planning only.
func catalog() *activities.Registry {
	r, err := buildRegistry(actionDeps{})
	if err != nil {
		// The list is static: a failure here is a programming error.
		panic(fmt.Sprintf("action registry: %v", err))
	}
	return r
}

// allowedHostsFromEnv reads RUNBOOK_HTTP_ALLOWED_HOSTS (comma-separated
// host or host:port entries, or URLs).
func allowedHostsFromEnv() []string {
	var out []string
	for _, h := range strings.Split(os.Getenv("RUNBOOK_HTTP_ALLOWED_HOSTS"), ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if u, err := url.Parse(h); err == nil && u.Host != "" {
			h = u.Host
		}
		out = append(out, h)
	}
	return out
}
