package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/workflows"
)

// drillMinInterval keeps a mistyped --every from turning a drill into a
// loop; Temporal itself accepts intervals down to a second.
const drillMinInterval = time.Second

func newDrillScheduleCommand(g *globals) *cobra.Command {
	var (
		bot, book, mode, every, jitter, at, maxAge, unusedFor string
		revokeUnused, paused                                  bool
	)
	c := &cobra.Command{
		Use:   "schedule",
		Short: "Create or update the drill schedule of a bot and runbook",
		Example: `  runbook drill schedule --bot bot-1 --runbook rotate-keys --every 30d --jitter 1h
  runbook drill schedule --bot bot-1 --mode rehearse --at "0 9 * * MON"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if bot == "" {
				return errors.New("--bot is required")
			}
			switch mode {
			case workflows.DrillModeRotate:
				if book == "" {
					book = "rotate-keys"
				}
			case workflows.DrillModeRehearse:
				if book == "" {
					book = "contain-key-breach"
				}
			default:
				return fmt.Errorf("--mode %q: want rotate or rehearse", mode)
			}
			spec := client.ScheduleSpec{}
			if every != "" {
				d, err := runbooks.ParseDuration(every)
				if err != nil {
					return fmt.Errorf("--every: %w", err)
				}
				if d.D() < drillMinInterval {
					return fmt.Errorf("--every %s: at least %s", every, drillMinInterval)
				}
				spec.Intervals = []client.ScheduleIntervalSpec{{Every: d.D()}}
			}
			if at != "" {
				spec.CronExpressions = []string{at}
			}
			if every == "" && at == "" {
				return errors.New("give --every DURATION or --at CRON (or both)")
			}
			if jitter != "" {
				d, err := runbooks.ParseDuration(jitter)
				if err != nil {
					return fmt.Errorf("--jitter: %w", err)
				}
				spec.Jitter = d.D()
			}
			for _, v := range []string{maxAge, unusedFor} {
				if v != "" {
					if _, err := runbooks.ParseDuration(v); err != nil {
						return err
					}
				}
			}
			lr, err := g.loadRunbook(book)
			if err != nil {
				return err
			}
			vals, err := runbooks.ResolveInputs(lr.Runbook, map[string]string{"bot": bot})
			if err != nil {
				return fmt.Errorf("runbook %s cannot run as a drill: %w", book, err)
			}
			id := workflows.DrillScheduleID(lr.Runbook.Name, bot)
			in := workflows.DrillInput{ScheduleID: id, Bot: bot, Mode: mode, MaxAge: maxAge, UnusedFor: unusedFor,
				RevokeUnused: revokeUnused, Child: workflows.IncidentInput{Runbook: *lr.Runbook, RunbookHash: lr.Hash,
					Inputs: vals, Actions: catalog().Meta(actionNames(lr.Runbook)),
					Trigger: "drill", Audit: true}}
			action := &client.ScheduleWorkflowAction{
				// Temporal appends the scheduled time: drill:<runbook>:<bot>-<time>.
				ID:                       id,
				Workflow:                 workflows.DrillWorkflowName,
				Args:                     []any{in},
				TaskQueue:                g.resolved().TaskQueue,
				WorkflowExecutionTimeout: 25 * time.Hour,
			}
			tc, err := g.dialTemporal(cmd.Context())
			if err != nil {
				return err
			}
			defer tc.Close()
			ctx := cmd.Context()
			memo := map[string]any{"bot": bot, "mode": mode, "runbook": lr.Runbook.Name, "runbook_hash": lr.Hash}
			_, err = tc.ScheduleClient().Create(ctx, client.ScheduleOptions{
				ID:     id,
				Spec:   spec,
				Action: action,
				// SKIP: a drill still running when the next is due is not
				// doubled; the due one is dropped.
				Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
				CatchupWindow: time.Hour,
				Paused:        paused,
				Memo:          memo,
			})
			verb := "created"
			if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
				verb = "updated"
				err = tc.ScheduleClient().GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
					DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
						s := u.Description.Schedule
						s.Spec, s.Action = &spec, action
						if s.Policy == nil {
							s.Policy = &client.SchedulePolicies{}
						}
						s.Policy.Overlap, s.Policy.CatchupWindow = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, time.Hour
						return &client.ScheduleUpdate{Schedule: &s}, nil
					},
				})
			}
			if err != nil {
				return fmt.Errorf("schedule %s: %w", id, err)
			}
			if asJSON, _ := g.jsonOutput(); asJSON {
				return g.printJSON(map[string]any{"schedule_id": id, "bot": bot, "mode": mode, "runbook": lr.Runbook.Name, "runbook_hash": lr.Hash, "result": verb})
			}
			fmt.Fprintf(g.stdout, "%s drill schedule %s (%s, runbook %s %s)\n", verb, id, mode, lr.Runbook.Name, lr.Hash)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&bot, "bot", "", "the bot to drill (required)")
	f.StringVar(&book, "runbook", "", "runbook to run (default: rotate-keys for --mode rotate, contain-key-breach for rehearse)")
	f.StringVar(&mode, "mode", workflows.DrillModeRotate, "rotate (real planned rotation) or rehearse (containment on the exchange simulator, production keys untouched)")
	f.StringVar(&every, "every", "", "interval, e.g. 30d, 12h, 5s")
	f.StringVar(&jitter, "jitter", "", "random delay added to each run, e.g. 1h")
	f.StringVar(&at, "at", "", "cron expression (UTC), e.g. \"0 9 * * MON\"")
	f.StringVar(&maxAge, "max-age", "", "hygiene: flag keys older than this (default 90d)")
	f.StringVar(&unusedFor, "unused-for", "", "hygiene: flag keys unused for this long (default 30d)")
	f.BoolVar(&revokeUnused, "revoke-unused", false, "hygiene: revoke keys on the bot's sub-account that the bot does not use (rotate mode)")
	f.BoolVar(&paused, "paused", false, "create the schedule paused")
	return c
}
