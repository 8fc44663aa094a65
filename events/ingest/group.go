package ingest

import (
	"sort"

	"github.com/keyresponse/runbook/workflows"
)

// group is one Starter call: one incident and the batch's events for it,
// in stream order. The first event starts (or is signalled into) the
// incident; the rest ride along as MoreEvidence.
type group struct {
	id     string
	rb     LoadedRunbook
	inputs map[string]any
	items  []*item
	pos    int // the first item's place in the batch
	// fleet is set when the group starts a fleet runbook for many bots.
	fleet *fleetGroup
}

// entry is one match of one item; pos is the item's place in the batch.
type entry struct {
	pos int
	it  *item
	m   Match
}

// route groups the batch's matches into Starter calls: fleet groups (see
// fleetRoute) and one group per incident id, groups in order of their
// first event, events of a group in stream order.
func (c *Consumer) route(items []*item, rbs []LoadedRunbook) []*group {
	var entries []entry
	for pos, it := range items {
		if it.ended {
			continue
		}
		for _, m := range it.matches {
			entries = append(entries, entry{pos: pos, it: it, m: m})
		}
	}
	groups, rest := c.fleetRoute(entries, rbs)
	sort.SliceStable(rest, func(i, j int) bool { return rest[i].pos < rest[j].pos })
	byID := map[string]*group{}
	for _, e := range rest {
		g := byID[e.m.IncidentID]
		if g == nil {
			g = &group{id: e.m.IncidentID, rb: e.m.Runbook, inputs: e.m.Inputs, pos: e.pos}
			byID[g.id] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, e.it)
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].pos < groups[j].pos })
	return groups
}

// bots are the subjects (bots, or accounts) whose events the group holds.
func (g *group) bots() []string {
	if len(g.items) == 1 || g.fleet == nil {
		return []string{g.items[0].ev.Subject}
	}
	seen := map[string]bool{}
	var out []string
	for _, it := range g.items {
		if !seen[it.ev.Subject] {
			seen[it.ev.Subject] = true
			out = append(out, it.ev.Subject)
		}
	}
	return out
}

// request is the group's Starter call: the first event's inputs, event
// map and evidence, the others as MoreEvidence.
func (g *group) request() StartRequest {
	first := g.items[0]
	req := StartRequest{
		IncidentID:  g.id,
		Runbook:     g.rb.Runbook,
		RunbookHash: g.rb.Hash,
		Inputs:      g.inputs,
		Event:       first.evMap,
		Evidence:    evidenceOf(first),
		StartedBy:   first.ev.Source,
		Exchange:    first.ev.Data.Exchange,
	}
	if len(g.items) > 1 {
		req.MoreEvidence = make([]workflows.Evidence, 0, len(g.items)-1)
		for _, it := range g.items[1:] {
			req.MoreEvidence = append(req.MoreEvidence, evidenceOf(it))
		}
	}
	return req
}

func evidenceOf(it *item) workflows.Evidence {
	return workflows.Evidence{EventID: it.ev.ID, Subject: it.ev.NATSSubject(), Data: dataMap(it.evMap)}
}

func dataMap(evMap map[string]any) map[string]any {
	if d, ok := evMap["data"].(map[string]any); ok {
		return d
	}
	return nil
}
