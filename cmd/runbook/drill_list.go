package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
)

// drillListing is one schedule as `drill list` shows it.
type drillListing struct {
	ID      string `json:"schedule_id"`
	Bot     string `json:"bot"`
	Runbook string `json:"runbook"`
	Mode    string `json:"mode,omitempty"`
	// ScheduledBy is the verified operator who last scheduled it (memo
	// the drill controller writes; a schedule without it was not made
	// through the controller).
	ScheduledBy string      `json:"scheduled_by,omitempty"`
	Paused      bool        `json:"paused"`
	Note        string      `json:"note,omitempty"`
	Every       string      `json:"every,omitempty"`
	Cron        []string    `json:"cron,omitempty"`
	NextRuns    []time.Time `json:"next_runs,omitempty"`
	RecentRuns  []string    `json:"recent_runs,omitempty"`
}

func newDrillListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List drill schedules: bot, runbook, mode, paused, next and recent runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tc, err := g.dialTemporal(cmd.Context())
			if err != nil {
				return err
			}
			defer tc.Close()
			kr, err := g.payloadKeyring()
			if err != nil {
				return err
			}
			dc := dataConverter(kr)
			it, err := tc.ScheduleClient().List(cmd.Context(), client.ScheduleListOptions{PageSize: 100})
			if err != nil {
				return err
			}
			var out []drillListing
			for it.HasNext() {
				e, err := it.Next()
				if err != nil {
					return err
				}
				if !strings.HasPrefix(e.ID, "drill:") {
					continue
				}
				parts := strings.SplitN(e.ID, ":", 3)
				l := drillListing{ID: e.ID, Runbook: parts[1], Bot: parts[2], Paused: e.Paused, Note: e.Note, NextRuns: e.NextActionTimes}
				memo := func(field string, into *string) {
					p, ok := e.Memo.Fields[field]
					switch {
					case !ok:
					case dc != nil:
						_ = dc.FromPayload(p, into)
					default:
						*into = strings.Trim(string(p.GetData()), `"`)
					}
				}
				if e.Memo != nil {
					memo("mode", &l.Mode)
					memo("scheduled_by", &l.ScheduledBy)
				}
				if e.Spec != nil {
					for _, iv := range e.Spec.Intervals {
						l.Every = iv.Every.String()
					}
					l.Cron = e.Spec.CronExpressions
				}
				for _, a := range e.RecentActions {
					if a.StartWorkflowResult != nil {
						l.RecentRuns = append(l.RecentRuns, a.StartWorkflowResult.WorkflowID)
					}
				}
				out = append(out, l)
			}
			if asJSON, _ := g.jsonOutput(); asJSON {
				if out == nil {
					out = []drillListing{}
				}
				return g.printJSON(out)
			}
			if len(out) == 0 {
				fmt.Fprintln(g.stdout, "no drill schedules; create one with `runbook drill schedule --bot B --every 30d`")
				return nil
			}
			for _, l := range out {
				state := "active"
				if l.Paused {
					state = "paused"
				}
				next := "-"
				if len(l.NextRuns) > 0 && !l.Paused {
					next = l.NextRuns[0].UTC().Format(time.RFC3339)
				}
				when := l.Every
				if len(l.Cron) > 0 {
					when = strings.TrimSpace(when + " " + strings.Join(l.Cron, ","))
				}
				by := l.ScheduledBy
				if by == "" {
					by = "unknown (not made through the drill controller)"
				}
				fmt.Fprintf(g.stdout, "%s  bot %s  %s  every %s  %s  next %s  runs %d  by %s\n", l.ID, l.Bot, l.Mode, when, state, next, len(l.RecentRuns), by)
			}
			return nil
		},
	}
}
