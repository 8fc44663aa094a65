package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/activities"
	incidentact "github.com/keyresponse/runbook/activities/incident"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/runbooks"
)

type recordingStarter struct{ reqs []ingest.StartRequest }

func (r *recordingStarter) StartOrSignal(_ context.Context, req ingest.StartRequest) (ingest.StartResult, error) {
	r.reqs = append(r.reqs, req)
	return ingest.StartResult{IncidentID: req.IncidentID, Started: len(r.reqs) == 1}, nil
}

// The fleet's Starter hands the trigger consumer's starter the loaded
// runbook with its hash and its inputs resolved like an event's.
func TestFleetStarterStartsLoadedRunbooksWithResolvedInputs(t *testing.T) {
	sh, _ := runbooks.FindShipped("contain-key-breach")
	rb, _, err := runbooks.Parse(sh.File, sh.Src)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingStarter{}
	fs := fleetStarter{start: rec, books: func() []ingest.LoadedRunbook {
		return []ingest.LoadedRunbook{{Runbook: *rb, Hash: "sha256:ckb"}}
	}}
	spec := incidentact.Spec{Runbook: "contain-key-breach", IncidentID: "contain-key-breach:bot-1:K1",
		Inputs:    map[string]any{"bot": "bot-1", "key_id": "K1", "severity": "high", "fleet": "contain-fleet-breach::prod"},
		StartedBy: "fleet:contain-fleet-breach::prod"}
	res, err := fs.StartIncident(context.Background(), spec)
	if err != nil || !res.Started {
		t.Fatalf("%+v %v", res, err)
	}
	if res, _ = fs.StartIncident(context.Background(), spec); res.Started || res.Closed {
		t.Fatalf("second start: %+v, want already running", res)
	}
	req := rec.reqs[0]
	if req.IncidentID != spec.IncidentID || req.Runbook.Name != "contain-key-breach" || req.RunbookHash != "sha256:ckb" ||
		req.StartedBy != spec.StartedBy || req.Evidence.EventID != spec.StartedBy {
		t.Errorf("request %+v", req)
	}
	if fmt.Sprint(req.Inputs) != "map[bot:bot-1 fleet:contain-fleet-breach::prod force_exit:false host_suspect:false key_id:K1 severity:high]" {
		t.Errorf("inputs %v", req.Inputs)
	}

	for name, c := range map[string]struct {
		fs   fleetStarter
		spec incidentact.Spec
	}{
		"unknown runbook": {fs, incidentact.Spec{Runbook: "nope", IncidentID: "x", Inputs: spec.Inputs}},
		"bad inputs":      {fs, incidentact.Spec{Runbook: "contain-key-breach", IncidentID: "x", Inputs: map[string]any{"colour": "red"}}},
		"no runbooks":     {fleetStarter{start: rec}, spec},
	} {
		_, err := c.fs.StartIncident(context.Background(), c.spec)
		var ae *temporal.ApplicationError
		if !errors.As(err, &ae) || !ae.NonRetryable() || ae.Type() != activities.ErrInvalidParams {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFleetActionsAreWired(t *testing.T) {
	for _, name := range []string{"bot.select", "bot.freeze_many", "incident.start_many"} {
		if _, ok := catalog().Action(name); !ok {
			t.Errorf("%s is not in the catalog", name)
		}
	}
	s := botSetup{facts: map[string]botFacts{"b-2": {account: "prod"}, "b-1": {account: "prod"}, "o-1": {account: "okx"}}}
	if ids, _ := s.botsOn(context.Background(), "prod"); fmt.Sprint(ids) != "[b-1 b-2]" {
		t.Errorf("botsOn prod = %v", ids)
	}
}
