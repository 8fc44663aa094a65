package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/activities/core"
	exact "github.com/keyresponse/runbook/activities/exchange"
	"github.com/keyresponse/runbook/activities/httpreq"
	incidentact "github.com/keyresponse/runbook/activities/incident"
	secretsact "github.com/keyresponse/runbook/activities/secrets"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// actionDeps are the live dependencies actions need. A zero value is enough
// to build the catalog for validate/plan, which never run an action.
type actionDeps struct {
	console      io.Writer
	allowedHosts []string
	// exchanges maps exchange account names to adapter configs whose
	// management credential lives in secrets.
	exchanges map[string]xchg.Config
	secrets   secrets.Store
	bots      botSetup
	nats      *nats.Conn
	sms       *smsSetup
	fleet     incidentact.Starter // incident.start_many's (fleet_wiring.go); nil: runs fail
	// authz is the worker's live roster (who to ask at a gate); nil in the
	// validation catalog.
	authz *authz.Live
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
	list = append(list, exact.Actions(exact.Deps{
		Exchanges: exact.ConfigResolver(d.exchanges, d.secrets),
		Secrets:   d.secrets,
	})...)
	bots, err := botActions(d.bots, d.exchanges, d.secrets, d.nats)
	if err != nil {
		return nil, err
	}
	list = append(list, bots...)
	list = append(list, secretsact.Actions(secretsact.Deps{Store: d.secrets})...)
	list = append(list, d.sms.action())
	list = append(list, incidentact.Actions(incidentact.Deps{Starter: d.fleet})...)
	return activities.NewRegistry(list...)
}

// catalog returns the registry for validation and planning only.
// It is built once: validation and planning call it for every runbook.
var catalog = sync.OnceValue(func() *activities.Registry {
	r, err := buildRegistry(actionDeps{})
	if err != nil {
		// The list is static: a failure here is a programming error.
		panic(fmt.Sprintf("action registry: %v", err))
	}
	return r
})

// allowedHosts is http.allowed_hosts from the config (or
// RUNBOOK_HTTP_ALLOWED_HOSTS): host or host:port entries, or URLs.
func (g *globals) allowedHosts() []string {
	var out []string
	for _, h := range g.mustCfg().HTTP.AllowedHosts {
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
