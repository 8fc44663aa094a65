package ingest

import (
	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/runbooks"
)

// fleetGroup is what a fleet start hands over: the per-bot incident ids
// the fleet runbook now owns.
type fleetGroup struct {
	handed []string
}

// fleetKey groups fleet candidates: the same trigger's matches on one
// exchange.
type fleetKey struct {
	runbook  string
	trigger  int
	exchange string
}

// fleetRoute takes, from a batch's matches, those of triggers with a Fleet
// route whose incident id this consumer does not know yet, grouped by
// exchange. A group with at least MinBots distinct bots becomes ONE start
// of the fleet runbook; smaller groups (and groups whose fleet runbook is
// missing or rejects the inputs) are returned with the other entries for
// the per-bot path.
func (c *Consumer) fleetRoute(entries []entry, rbs []LoadedRunbook) (fleets []*group, rest []entry) {
	var order []fleetKey
	cands := map[fleetKey][]entry{}
	for _, e := range entries {
		tr := e.m.Runbook.Runbook.Triggers[e.m.Trigger]
		// Account-wide events (no bot) are not a bot to contain.
		if tr.Fleet == nil || e.it.ev.Data.Bot == "" || c.known.has(e.m.IncidentID) {
			rest = append(rest, e)
			continue
		}
		k := fleetKey{runbook: e.m.Runbook.Runbook.Name, trigger: e.m.Trigger, exchange: e.it.ev.Data.Exchange}
		if _, ok := cands[k]; !ok {
			order = append(order, k)
		}
		cands[k] = append(cands[k], e)
	}
	for _, k := range order {
		es := cands[k]
		route := es[0].m.Runbook.Runbook.Triggers[k.trigger].Fleet
		if g := c.fleetGroup(route, k.exchange, es, rbs); g != nil {
			fleets = append(fleets, g)
			continue
		}
		rest = append(rest, es...)
	}
	return fleets, rest
}

// fleetGroup builds the fleet start for es (one trigger, one exchange, in
// stream order), or returns nil when it does not apply.
func (c *Consumer) fleetGroup(route *runbooks.FleetRoute, exchange string, es []entry, rbs []LoadedRunbook) *group {
	bots := map[string]bool{}
	for _, e := range es {
		bots[e.it.ev.Data.Bot] = true
	}
	if len(bots) < max(route.MinBots, 2) {
		return nil
	}
	var fleetRB *LoadedRunbook
	for i := range rbs {
		if rbs[i].Runbook.Name == route.Runbook {
			fleetRB = &rbs[i]
			break
		}
	}
	if fleetRB == nil {
		c.fleetProblem(route.Runbook, "fleet runbook is not loaded; containing bots one by one")
		return nil
	}
	var (
		targets []any
		handed  []string
		seen    = map[string]bool{}
		sev     breach.Severity
		items   = make([]*item, 0, len(es))
	)
	for _, e := range es {
		items = append(items, e.it)
		if severityRank(e.it.ev.Data.Severity) > severityRank(sev) {
			sev = e.it.ev.Data.Severity
		}
		if seen[e.m.IncidentID] {
			continue
		}
		seen[e.m.IncidentID] = true
		handed = append(handed, e.m.IncidentID)
		d := e.it.ev.Data
		targets = append(targets, map[string]any{
			"bot": d.Bot, "key_id": d.KeyID, "severity": string(d.Severity), "incident_id": e.m.IncidentID,
		})
	}
	inputs, err := runbooks.ResolveInputValues(&fleetRB.Runbook, map[string]any{
		"exchange": exchange, "severity": string(sev), "targets": targets,
	})
	if err != nil {
		c.fleetProblem(route.Runbook, "fleet runbook rejects the fleet inputs ("+err.Error()+"); containing bots one by one")
		return nil
	}
	return &group{
		id:     route.Runbook + ":" + exchange + ":" + es[0].it.ev.ID,
		rb:     *fleetRB,
		inputs: inputs,
		items:  items,
		pos:    es[0].pos,
		fleet:  &fleetGroup{handed: handed},
	}
}

// fleetProblem logs a broken fleet route once per fleet runbook: it is a
// configuration error, and a storm must not repeat it per batch.
func (c *Consumer) fleetProblem(fleetRunbook, msg string) {
	if _, dup := c.fleetMissing.LoadOrStore(fleetRunbook+"\x00"+msg, true); dup {
		return
	}
	c.log.Error(msg, "fleet_runbook", fleetRunbook)
}

func severityRank(s breach.Severity) int {
	switch s {
	case breach.SeverityLow:
		return 1
	case breach.SeverityMedium:
		return 2
	case breach.SeverityHigh:
		return 3
	case breach.SeverityCritical:
		return 4
	}
	return 0
}
