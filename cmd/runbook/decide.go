package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

// decisionCommand builds approve / deny / abort: each signs a statement
// naming the verb, incident, run and gate with the operator's key and sends
// it in an Update, so the answer says at once whether the worker accepted
// it (the Update's validator verifies the signature against its roster).
func decisionCommand(g *globals, verb authz.Verb, update, short string) *cobra.Command {
	var step, comment, totp, smsCode string
	c := &cobra.Command{
		Use:   string(verb) + " INCIDENT",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			refused := func(err error) error {
				return &exitError{code: 1, msg: fmt.Sprintf("%s %s refused: %s", verb, id, refusalReason(verb, err))}
			}
			if totp != "" && smsCode != "" {
				return fmt.Errorf("--totp and --sms-code: give the one second factor the gate asks for")
			}
			op, err := g.operatorID()
			if err != nil {
				return refused(err)
			}
			c, err := g.dialTemporal(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			runID, gate, err := decisionTarget(cmd.Context(), c, id, verb, step)
			if err != nil {
				return refused(err)
			}
			st := authz.Statement{Verb: verb, Incident: id, Run: runID, Step: gate, Comment: comment}
			switch {
			case totp != "":
				st.Factor = &authz.Factor{Kind: authz.FactorTOTP, Code: totp}
			case smsCode != "":
				st.Factor = &authz.Factor{Kind: authz.FactorSMS, Code: smsCode}
			}
			signed, err := op.sign(st)
			if err != nil {
				return refused(err)
			}
			d := workflows.Decision{Step: gate, Identity: op.Name, Comment: comment, Signed: signed}
			h, err := updateWorkflow(cmd.Context(), c, client.UpdateWorkflowOptions{
				WorkflowID:   id,
				RunID:        runID, // the run the statement names
				UpdateName:   update,
				Args:         []any{d},
				WaitForStage: client.WorkflowUpdateStageCompleted,
			})
			if err == nil {
				err = h.Get(cmd.Context(), nil)
			}
			if err != nil {
				return refused(err)
			}
			if asJSON, _ := g.jsonOutput(); asJSON {
				return g.printJSON(map[string]string{"incident_id": id, "run_id": runID, "decision": string(verb),
					"identity": op.Name, "operator": op.Name, "fingerprint": op.Fingerprint(), "step": gate})
			}
			fmt.Fprintf(g.stdout, "%s: %s recorded for %s (%s)\n", id, verb, op.Name, op.Fingerprint())
			return nil
		},
	}
	c.Flags().StringVar(&step, "step", "", "the gate to answer (default: the one waiting now)")
	c.Flags().StringVarP(&comment, "comment", "m", "", "a note for the audit trail")
	if verb != authz.VerbAbort {
		c.Flags().StringVar(&totp, "totp", "", "second factor: the current code of your authenticator (gates with second_factor: totp)")
		c.Flags().StringVar(&smsCode, "sms-code", "", "second factor: the code texted to you for this gate (gates with second_factor: sms)")
	}
	return c
}

// decisionTarget finds what the statement must name: the incident's
// current run and, for approve/deny, the gate that waits. The worker binds
// the statement to both, so a decision meant for one run or gate never
// answers another.
func decisionTarget(ctx context.Context, c client.Client, id string, verb authz.Verb, step string) (runID, gate string, err error) {
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return "", "", fmt.Errorf("incident %s: %w", id, err)
	}
	runID = desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	if verb == authz.VerbAbort {
		return runID, step, nil
	}
	st, err := queryState(ctx, c, id, runID)
	if err != nil {
		return "", "", fmt.Errorf("incident %s: no worker answered the state query (%v); is `runbook dev` or `runbook worker` running?", id, err)
	}
	gate, err = waitingGate(st, step)
	return runID, gate, err
}

// waitingGate resolves --step against the gates that wait: empty means the
// one waiting gate; "S" also names S's blast-radius hold "S.hold".
func waitingGate(st workflows.IncidentState, step string) (string, error) {
	var waiting []string
	for _, s := range st.Steps {
		if s.Status == workflows.StatusWaiting {
			waiting = append(waiting, s.ID)
		}
	}
	if step != "" {
		for _, w := range waiting {
			if w == step || w == step+".hold" {
				return w, nil
			}
		}
		if len(waiting) == 0 {
			return "", fmt.Errorf("no approval gate is waiting (incident %s)", st.Status)
		}
		return "", fmt.Errorf("step %q is not waiting (waiting: %s)", step, strings.Join(waiting, ", "))
	}
	switch len(waiting) {
	case 0:
		return "", fmt.Errorf("no approval gate is waiting (incident %s)", st.Status)
	case 1:
		return waiting[0], nil
	}
	return "", fmt.Errorf("several gates wait (%s): name one with --step", strings.Join(waiting, ", "))
}

// refusalReason is the worker's reason without the SDK's wrapping (the
// Update's ApplicationError adds its type and retryability) and without
// repeating "<verb> refused".
func refusalReason(verb authz.Verb, err error) string {
	msg := err.Error()
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		msg = app.Message()
	}
	if rest, ok := strings.CutPrefix(msg, string(verb)+" refused for "); ok {
		if _, reason, ok := strings.Cut(rest, ": "); ok {
			return reason
		}
	}
	if rest, ok := strings.CutPrefix(msg, string(verb)+" refused: "); ok {
		return rest
	}
	return msg
}
