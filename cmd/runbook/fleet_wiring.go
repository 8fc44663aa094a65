package main

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/activities"
	incidentact "github.com/keyresponse/runbook/activities/incident"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/ingest/temporalstart"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/workflows"
)

// Fleet containment wiring: contain-fleet-breach contains many bots in one
// incident, then incident.start_many starts a per-bot incident for each.
// This file gives that action its Starter (the trigger consumer's eager
// start over the engine's loaded runbooks) and bot.select its roster.
//
// Where it is called from:
//   - catalog.go buildRegistry appends incidentact.Actions with
//     actionDeps.fleet (nil in the validation catalog: a run then fails
//     InvalidParams "no incident starter configured");
//   - the worker setups set actionDeps.fleet = newFleetStarter(...)
//     before buildRegistry (devstack.go, worker.go);
//   - bots.go passes botSetup.botsOn as bot.Deps.BotsOn.

// fleetStarter implements incidentact.Starter.
type fleetStarter struct {
	start ingest.Starter
	books func() []ingest.LoadedRunbook
}

// newFleetStarter starts per-bot incidents on c exactly as the trigger
// consumer's eager starter does (same task queue, engine signer and search
// attributes as es; trigger fleet), from the runbooks books returns. Action metadata comes
// from the static catalog: action specs do not depend on the worker's
// configuration, and the live registry does not exist yet when this is
// built (it is one of its inputs).
func newFleetStarter(c client.Client, es eventSettings, books func() []ingest.LoadedRunbook) incidentact.Starter {
	st := &temporalstart.EagerStarter{Client: c, TaskQueue: es.taskQueue, Actions: catalog(), Sign: es.sign,
		Trigger: temporalstart.TriggerFleet, Lazy: es.starter == "lazy"}
	if es.searchAttributes {
		st.SearchAttributes = func(r ingest.StartRequest) temporal.SearchAttributes {
			return incidentAttributes(r.Runbook.Name, r.Inputs, r.Exchange, "", "fleet").Typed()
		}
	}
	return fleetStarter{start: st, books: books}
}

// StartIncident implements incidentact.Starter. The runbook is looked up by
// name among the loaded runbooks (its hash travels with it, as for an
// event); inputs get the runbook's defaults and type checks. An incident
// that already runs receives the fleet as evidence (deduplicated by id on
// a retry).
func (f fleetStarter) StartIncident(ctx context.Context, s incidentact.Spec) (incidentact.Result, error) {
	if f.books == nil {
		return incidentact.Result{}, activities.NonRetryable(activities.ErrInvalidParams, errors.New("this worker has no runbooks loaded to start incidents from"))
	}
	var lr *ingest.LoadedRunbook
	for _, b := range f.books() {
		if b.Runbook.Name == s.Runbook {
			lr = &b
			break
		}
	}
	if lr == nil {
		return incidentact.Result{}, activities.NonRetryable(activities.ErrInvalidParams, fmt.Errorf("runbook %q is not loaded", s.Runbook))
	}
	rb := lr.Runbook
	inputs, err := runbooks.ResolveInputValues(&rb, s.Inputs)
	if err != nil {
		return incidentact.Result{}, activities.NonRetryable(activities.ErrInvalidParams, fmt.Errorf("runbook %s: %w", s.Runbook, err))
	}
	res, err := f.start.StartOrSignal(ctx, ingest.StartRequest{
		IncidentID:  s.IncidentID,
		Runbook:     rb,
		RunbookHash: lr.Hash,
		Inputs:      inputs,
		StartedBy:   s.StartedBy,
		Evidence:    workflows.Evidence{EventID: s.StartedBy, Data: map[string]any{"fleet": s.Inputs["fleet"]}},
	})
	if err != nil {
		return incidentact.Result{}, activities.Retryable(activities.ErrUnavailable, err)
	}
	return incidentact.Result{Started: res.Started, Closed: res.Closed}, nil
}

// botsOn lists the configured bots of an exchange account (bot.select's
// whole-fleet case), sorted so the fleet's steps see a stable order.
func (s botSetup) botsOn(_ context.Context, account string) ([]string, error) {
	var ids []string
	for id, f := range s.facts {
		if f.account == account {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}
