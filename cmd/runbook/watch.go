package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/keyresponse/runbook/workflows"
)

// pollEvery is how often --wait queries the incident's state. Queries are
// answered by the worker from its cache; a few per second is cheap.
const pollEvery = 250 * time.Millisecond

// watchIncident follows an incident until it ends and returns its final
// state. On a terminal it redraws a step table in place; otherwise (a pipe,
// a log, CI) it prints one line per step change. With quiet (JSON output)
// it prints nothing while waiting.
func watchIncident(ctx context.Context, c client.Client, run client.WorkflowRun, w io.Writer, quiet bool) (workflows.IncidentState, error) {
	done := make(chan error, 1)
	var final workflows.IncidentState
	go func() { done <- run.Get(ctx, &final) }()

	tty := isTerminal(w)
	seen := map[string]string{}
	drawn := 0
	render := func(st workflows.IncidentState) {
		if quiet {
			return
		}
		if tty {
			if drawn > 0 {
				fmt.Fprintf(w, "\x1b[%dA\x1b[J", drawn)
			}
			drawn = printSteps(w, st)
			return
		}
		for _, line := range changedLines(st, seen) {
			fmt.Fprintln(w, line)
		}
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return final, fmt.Errorf("incident %s: %w", run.GetID(), err)
			}
			render(final)
			if !quiet {
				fmt.Fprintf(w, "incident %s %s\n", final.IncidentID, final.Status)
			}
			return final, nil
		case <-tick.C:
			st, err := queryState(ctx, c, run.GetID(), run.GetRunID())
			if err == nil {
				render(st)
			}
		case <-ctx.Done():
			return final, ctx.Err()
		}
	}
}

// changedLines returns a line for every step whose status changed since the
// last call (plain-output mode).
func changedLines(st workflows.IncidentState, seen map[string]string) []string {
	var out []string
	for _, s := range st.Steps {
		key := s.Status
		if s.Compensation != nil {
			key += "/" + s.Compensation.Status
		}
		if seen[s.ID] == string(key) {
			continue
		}
		seen[s.ID] = string(key)
		out = append(out, stepLine(s))
	}
	return out
}

func stepLine(s workflows.StepState) string {
	name := s.ID
	if s.Parent != "" {
		name = "  " + s.ID
	}
	var extra []string
	if s.Action != "" {
		extra = append(extra, s.Action)
	}
	if s.Attempts > 1 {
		extra = append(extra, fmt.Sprintf("attempt %d", s.Attempts))
	}
	if s.StartedAt != nil && s.EndedAt != nil {
		extra = append(extra, s.EndedAt.Sub(*s.StartedAt).Round(time.Millisecond).String())
	}
	if s.Status == workflows.StatusWaiting && s.Summary != "" {
		extra = append(extra, s.Summary+" (runbook approve|deny INCIDENT)")
	}
	if s.DecidedBy != "" {
		extra = append(extra, "by "+s.DecidedBy)
	}
	if s.Error != "" {
		extra = append(extra, "error: "+s.Error)
	}
	if s.Compensation != nil {
		extra = append(extra, "compensation "+string(s.Compensation.Status))
	}
	return fmt.Sprintf("%-28s %-17s %s", name, s.Status, strings.Join(extra, ", "))
}

// printSteps prints the step table and returns how many lines it used.
func printSteps(w io.Writer, st workflows.IncidentState) int {
	n := 0
	for _, s := range st.Steps {
		fmt.Fprintln(w, stepLine(s))
		n++
	}
	return n
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func queryState(ctx context.Context, c client.Client, id, runID string) (workflows.IncidentState, error) {
	var st workflows.IncidentState
	v, err := c.QueryWorkflow(ctx, id, runID, workflows.QueryState)
	if err != nil {
		return st, err
	}
	return st, v.Get(&st)
}
