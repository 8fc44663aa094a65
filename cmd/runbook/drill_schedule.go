package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

func newDrillScheduleCommand(g *globals) *cobra.Command {
	var (
		bot, book, mode, every, jitter, at, maxAge, unusedFor string
		validFor                                              string
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
			var spec workflows.DrillSpec
			if every != "" {
				d, err := runbooks.ParseDuration(every)
				if err != nil {
					return fmt.Errorf("--every: %w", err)
				}
				if d.D() < workflows.DrillMinInterval {
					return fmt.Errorf("--every %s: at least %s", every, workflows.DrillMinInterval)
				}
				spec.Every = d.D()
			}
			spec.Cron, spec.Paused = at, paused
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
			valid, err := runbooks.ParseDuration(validFor)
			if err != nil {
				return fmt.Errorf("--valid-for: %w", err)
			}
			if valid.D() <= 0 || valid.D() > authz.MaxDrillAge {
				return fmt.Errorf("--valid-for %s: between 1s and %s (authz.MaxDrillAge)", validFor, authz.MaxDrillAge)
			}
			lr, err := g.loadRunbook(book)
			if err != nil {
				return err
			}
			vals, err := runbooks.ResolveInputs(lr.Runbook, map[string]string{"bot": bot})
			if err != nil {
				return fmt.Errorf("runbook %s cannot run as a drill: %w", book, err)
			}
			actions, err := resolveActions(lr.Runbook)
			if err != nil {
				return err
			}
			id := workflows.DrillScheduleID(lr.Runbook.Name, bot)
			in := workflows.DrillInput{ScheduleID: id, Bot: bot, Mode: mode, MaxAge: maxAge, UnusedFor: unusedFor,
				RevokeUnused: revokeUnused, Child: workflows.IncidentInput{Runbook: *lr.Runbook, RunbookHash: lr.Hash,
					Inputs: vals, Actions: actions,
					Trigger: "drill", Audit: true}}
			// The statement binds what every run of the schedule starts
			// with; each run checks it, so it lives as long as the schedule
			// should run unattended (re-run `drill schedule` to renew).
			now := time.Now().UTC()
			st := authz.Statement{Runbook: lr.Runbook.Name, RunbookHash: lr.Hash, Inputs: workflows.DrillStatementInputs(in),
				IssuedAt: now, Expires: now.Add(valid.D())}
			res, err := g.sendDrillChange(cmd.Context(), authz.VerbDrillSchedule,
				workflows.DrillChangeRequest{Schedule: id, Drill: &in, Spec: spec}, st)
			if err != nil {
				return err
			}
			if asJSON, _ := g.jsonOutput(); asJSON {
				return g.printJSON(map[string]any{"schedule_id": id, "bot": bot, "mode": mode, "runbook": lr.Runbook.Name,
					"runbook_hash": lr.Hash, "result": res.Result, "by": res.By, "authorized_until": st.Expires})
			}
			fmt.Fprintf(g.stdout, "%s drill schedule %s (%s, runbook %s %s) by %s; runs authorized until %s\n", res.Result, id, mode,
				lr.Runbook.Name, lr.Hash, res.By.String(), st.Expires.Format(time.RFC3339))
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
	f.StringVar(&validFor, "valid-for", "365d", "how long runs are authorized by this signed schedule (at most 400d; then re-run drill schedule)")
	return c
}
