package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/events/ingest/temporalstart"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

func newExecCommand(g *globals) *cobra.Command {
	var (
		inputs    []string
		eventFile string
		wait      bool
		id        string
	)
	c := &cobra.Command{
		Use:   "exec RUNBOOK",
		Short: "Start an incident running RUNBOOK (a shipped name or a YAML file)",
		Example: `  runbook exec demo-approval --input bot=bot-1 --wait
  runbook exec ./my-runbook.yaml --event breach.json --output json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.jsonOutput()
			if err != nil {
				return err
			}
			in, err := g.incidentInput(args[0], inputs, eventFile, id)
			if err != nil {
				return err
			}
			op, err := g.signStart(&in)
			if err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("exec %s refused: %v", in.IncidentID, err)}
			}
			c, err := g.dialTemporal(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			var sa *temporal.SearchAttributes
			if g.searchAttributes() {
				attrs := incidentAttributes(in.Runbook.Name, in.Inputs, "", "", "manual").Typed()
				sa = &attrs
			}
			run, err := startIncident(cmd.Context(), c, g.resolved().TaskQueue, in, sa)
			if err != nil {
				return err
			}
			if !wait {
				if rf := startRefusal(cmd.Context(), c, run); rf != nil {
					return &exitError{code: 1, msg: fmt.Sprintf("exec %s refused: %s", run.GetID(), rf.Reason)}
				}
				if asJSON {
					return g.printJSON(map[string]string{"incident_id": run.GetID(), "run_id": run.GetRunID(), "runbook": in.Runbook.Name, "runbook_hash": in.RunbookHash, "operator": op.Name, "fingerprint": op.Fingerprint()})
				}
				fmt.Fprintf(g.stdout, "started incident %s (runbook %s, %s) as %s (%s)\nfollow it: runbook status %s\n", run.GetID(), in.Runbook.Name, in.RunbookHash, op.Name, op.Fingerprint(), run.GetID())
				return nil
			}
			if !asJSON {
				fmt.Fprintf(g.stdout, "incident %s: runbook %s (%s)\n", run.GetID(), in.Runbook.Name, in.RunbookHash)
			}
			st, err := watchIncident(cmd.Context(), c, run, g.stdout, asJSON)
			if err != nil {
				return err
			}
			if asJSON {
				if err := g.printJSON(st); err != nil {
					return err
				}
			}
			return incidentExit(st)
		},
	}
	c.Flags().StringArrayVarP(&inputs, "input", "i", nil, "runbook input as name=value (repeatable)")
	c.Flags().StringVar(&eventFile, "event", "", "a breach event (CloudEvents JSON) to run against, as if it had triggered the runbook")
	c.Flags().BoolVarP(&wait, "wait", "w", false, "wait and show per-step progress until the incident ends")
	c.Flags().StringVar(&id, "id", "", "incident id (default: <runbook>:<bot> when the runbook has a bot input, else a new uuid)")
	return c
}

// incidentInput builds the workflow input: the validated definition and its
// hash, typed inputs, the event, and the action metadata the workflow needs.
func (g *globals) incidentInput(ref string, inputs []string, eventFile, id string) (workflows.IncidentInput, error) {
	lr, err := g.loadRunbook(ref)
	if err != nil {
		return workflows.IncidentInput{}, err
	}
	given := map[string]string{}
	for _, kv := range inputs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return workflows.IncidentInput{}, fmt.Errorf("--input %q: want name=value", kv)
		}
		given[k] = v
	}
	vals, err := runbooks.ResolveInputs(lr.Runbook, given)
	if err != nil {
		return workflows.IncidentInput{}, err
	}
	actions, err := resolveActions(lr.Runbook)
	if err != nil {
		return workflows.IncidentInput{}, err
	}
	var event map[string]any
	if eventFile != "" {
		b, err := os.ReadFile(eventFile)
		if err != nil {
			return workflows.IncidentInput{}, fmt.Errorf("--event: %w", err)
		}
		if err := json.Unmarshal(b, &event); err != nil {
			return workflows.IncidentInput{}, fmt.Errorf("--event %s: not a JSON object: %w", eventFile, err)
		}
	}
	if id == "" {
		id = defaultIncidentID(lr.Runbook.Name, vals)
	}
	return workflows.IncidentInput{
		IncidentID:  id,
		Runbook:     *lr.Runbook,
		RunbookHash: lr.Hash,
		Inputs:      vals,
		Event:       event,
		Actions:     actions,
		Trigger:     "manual",
		Audit:       true,
		StartedBy:   g.operator(),
	}, nil
}

// signStart signs the operator's exec statement into in.Authorization: it
// binds the incident id, the runbook's name and content hash, and its inputs
// and event, so the worker runs exactly what was signed (or, before the
// first step, fails the incident closed and audits why).
func (g *globals) signStart(in *workflows.IncidentInput) (*operatorID, error) {
	op, err := g.operatorID()
	if err != nil {
		return nil, err
	}
	signed, err := op.sign(workflows.StartStatement(*in))
	if err != nil {
		return nil, err
	}
	in.Authorization = signed
	in.StartedBy = op.Name
	return op, nil
}

// startRefusal waits briefly for the worker's start check (the first thing
// an incident does), so an exec the worker refuses says so here instead of
// "started". It gives up quietly when no worker answers in time: the
// incident is then checked whenever a worker picks it up.
func startRefusal(ctx context.Context, c client.Client, run client.WorkflowRun) *authz.Refusal {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, err := queryState(ctx, c, run.GetID(), run.GetRunID())
		if err == nil {
			if st.StartedByVerified != nil {
				return nil
			}
			if st.EndedAt != nil && len(st.Refusals) > 0 {
				return &st.Refusals[0]
			}
		}
		if err != nil && st.IncidentID == "" {
			// Closed already (a refused start ends at once): its result says.
			var res workflows.IncidentState
			gctx, cancel := context.WithTimeout(ctx, time.Second)
			gerr := run.Get(gctx, &res)
			cancel()
			if gerr == nil {
				if len(res.Refusals) > 0 && res.StartedByVerified == nil {
					return &res.Refusals[0]
				}
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// defaultIncidentID is <runbook>:<bot> so that one bot has at most one open
// incident per runbook (a second exec is refused while the first runs).
func defaultIncidentID(runbook string, inputs map[string]any) string {
	if bot, ok := inputs["bot"].(string); ok && bot != "" {
		return runbook + ":" + bot
	}
	return runbook + ":" + uuid.NewString()
}

// resolveActions is the action metadata a start carries for rb: the same
// resolution the trigger consumer and the worker's registry use
// (temporalstart.ResolveActions), so a manual start of a registered runbook
// has the definition digest the worker registered.
func resolveActions(rb *runbooks.Runbook) (map[string]runbooks.ActionMeta, error) {
	return temporalstart.ResolveActions(*rb, catalog())
}

// startIncident starts the interpreter workflow. The workflow id is the
// incident id: while an incident with that id runs, a second start is
// refused rather than duplicated.
func startIncident(ctx context.Context, c client.Client, taskQueue string, in workflows.IncidentInput, sa *temporal.SearchAttributes) (client.WorkflowRun, error) {
	opts := client.StartWorkflowOptions{
		ID:                                       in.IncidentID,
		TaskQueue:                                taskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		WorkflowExecutionTimeout:                 7 * 24 * time.Hour,
	}
	if sa != nil {
		opts.TypedSearchAttributes = *sa
	}
	run, err := c.ExecuteWorkflow(ctx, opts, workflows.IncidentWorkflowName, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return nil, &exitError{code: 3, msg: fmt.Sprintf("incident %s is already running; see `runbook status %s`", in.IncidentID, in.IncidentID)}
	}
	if err != nil {
		return nil, fmt.Errorf("start incident %s: %w", in.IncidentID, err)
	}
	return run, nil
}

// incidentExit maps the final incident status to the exit code.
func incidentExit(st workflows.IncidentState) error {
	switch st.Status {
	case workflows.StatusSucceeded:
		return nil
	default:
		return &exitError{code: 2, msg: fmt.Sprintf("incident %s ended %s %s", st.IncidentID, st.Status, st.Error)}
	}
}
