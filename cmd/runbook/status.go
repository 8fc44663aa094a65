package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/natsauth"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

func newStatusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status INCIDENT",
		Short: "Show an incident's per-step state, attempts, timings, outputs and approvals",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.jsonOutput()
			if err != nil {
				return err
			}
			c, err := g.dialTemporal(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := incidentState(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return g.printJSON(st)
			}
			printStatus(g, st)
			printAuditSummary(cmd.Context(), g, args[0])
			return nil
		},
	}
}

// incidentState asks the workflow (a query, answered by a worker) and falls
// back to the result of a closed incident when no worker is running.
func incidentState(ctx context.Context, c client.Client, id string) (workflows.IncidentState, error) {
	st, qerr := queryState(ctx, c, id, "")
	if qerr == nil {
		return st, nil
	}
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return st, fmt.Errorf("incident %s: %w", id, err)
	}
	if desc.GetWorkflowExecutionInfo().GetCloseTime() != nil {
		gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := c.GetWorkflow(gctx, id, "").Get(gctx, &st); err == nil {
			return st, nil
		}
	}
	return st, fmt.Errorf("incident %s: no worker answered (%v); is `runbook dev` or `runbook worker` running?", id, qerr)
}

func printStatus(g *globals, st workflows.IncidentState) {
	w := g.stdout
	fmt.Fprintf(w, "incident  %s\nrunbook   %s (%s)\nstatus    %s\ntrigger   %s\nstarted   %s\n",
		st.IncidentID, st.Runbook, st.RunbookHash, st.Status, st.Trigger, st.StartedAt.Format(time.RFC3339))
	if st.EndedAt != nil {
		fmt.Fprintf(w, "ended     %s (%s)\n", st.EndedAt.Format(time.RFC3339), st.EndedAt.Sub(st.StartedAt).Round(time.Millisecond))
	}
	if v := st.StartedByVerified; v != nil {
		adhoc := ""
		if v.Adhoc {
			adhoc = ", ad hoc (not a registered runbook)"
		}
		fmt.Fprintf(w, "by        %s%s\n", v, adhoc)
	}
	switch {
	case st.AbortedByVerified != nil:
		fmt.Fprintf(w, "aborted   by %s\n", st.AbortedByVerified)
	case st.AbortedBy != "":
		fmt.Fprintf(w, "aborted   by %s\n", st.AbortedBy)
	}
	if st.Error != "" {
		fmt.Fprintf(w, "error     %s\n", st.Error)
	}
	if len(st.Evidence) > 0 {
		fmt.Fprintf(w, "evidence  %d later event(s)\n", len(st.Evidence))
	}
	fmt.Fprintln(w, "\nsteps")
	for _, s := range st.Steps {
		fmt.Fprintln(w, "  "+stepLine(s))
		for _, a := range s.Approvals {
			fmt.Fprintf(w, "      %s by %s at %s\n", pastVerb(a.Verb), a, a.IssuedAt.UTC().Format(time.RFC3339))
		}
		for _, k := range sortedKeys(s.Outputs) {
			fmt.Fprintf(w, "      %s = %v\n", k, s.Outputs[k])
		}
	}
	if len(st.Refusals) > 0 {
		fmt.Fprintln(w, "\nrefused")
		for _, r := range st.Refusals {
			fmt.Fprintf(w, "  %s\n", r.Error())
		}
	}
}

func pastVerb(v authz.Verb) string {
	switch v {
	case authz.VerbApprove:
		return "approved"
	case authz.VerbDeny:
		return "denied"
	}
	return string(v)
}

// printAuditSummary adds what the audit projection says: chain integrity,
// time to contain, key changes and notifications.
func printAuditSummary(ctx context.Context, g *globals, id string) {
	nc, js, err := g.connectNATS(ctx, natsauth.RoleOperator)
	if err != nil {
		return
	}
	defer nc.Close()
	recs, err := audit.Load(ctx, js, id, audit.DirectReads())
	if err != nil || len(recs) == 0 {
		return
	}
	v := audit.Project(audit.Latest(recs))
	// Structure only: who wrote the records (their MACs) and the heads in
	// Temporal history are `runbook audit verify`'s to check, so status
	// does not call a forged append "intact".
	chain := "links intact (authenticity: runbook audit verify)"
	if err := audit.Verify(recs); err != nil {
		chain = "BROKEN: " + err.Error()
	}
	fmt.Fprintf(g.stdout, "\naudit     %d records, chain %s\n", len(recs), chain)
	if d, from, ok := v.TimeToContain(); ok {
		fmt.Fprintf(g.stdout, "contained %s after the %s\n", d.Round(time.Millisecond), from)
	}
	for _, k := range v.KeysChanged {
		fmt.Fprintf(g.stdout, "key       %s %s on %s (%s) %s\n", k.Change, k.KeyID, k.Exchange, k.Step, k.Detail)
	}
	fmt.Fprintf(g.stdout, "notified  %d time(s)\n", len(v.Notifications))
	for _, r := range v.Refusals {
		who := r.Operator
		if who == "" {
			who = "(unsigned)"
		}
		fmt.Fprintf(g.stdout, "refused   %s %s by %s: %s\n", r.Time.UTC().Format(time.RFC3339), r.Verb, who, r.Reason)
	}
}
