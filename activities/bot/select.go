package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/runbooks"
)

// Target is one bot of a fleet breach as the trigger consumer hands it
// over: the leaked key and the incident id it reserved, when known.
type Target struct {
	Bot        string `json:"bot"`
	KeyID      string `json:"key_id,omitempty"`
	Severity   string `json:"severity,omitempty"`
	IncidentID string `json:"incident_id,omitempty"`
}

// UnmarshalJSON also takes a bare bot id, so that
// `runbook exec contain-fleet-breach --input targets=bot-1,bot-2` works; an
// object is decoded strictly like every action param.
func (t *Target) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		*t = Target{}
		return json.Unmarshal(b, &t.Bot)
	}
	type plain Target
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p plain
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*t = Target(p)
	return nil
}

// SelectParams are bot.select's params.
type SelectParams struct {
	// Exchange is the engine's exchange account (bot.info's account).
	Exchange string `json:"exchange"`
	// Targets are the breached bots; empty means every bot on Exchange.
	Targets []Target `json:"targets"`
}

// Validate checks the params.
func (p *SelectParams) Validate() error {
	if p.Exchange == "" {
		return errors.New("exchange is required")
	}
	for i, t := range p.Targets {
		if t.Bot == "" {
			return fmt.Errorf("targets[%d]: bot is required", i)
		}
	}
	return nil
}

// SelectSpec declares bot.select.
var SelectSpec = runbooks.ActionSpec{
	Name: "bot.select",
	Description: "Resolve the bots of a fleet breach: the given targets, or every bot configured on the exchange account " +
		"when none are given. Each bot comes back with bot.info's facts and the leaked key (the target's key_id, else " +
		"the bot's current key). Bots the configuration does not know are listed in unresolved, not dropped silently.",
	Params: []runbooks.ParamSpec{
		{Name: "exchange", Type: runbooks.ParamString, Required: true, Description: "exchange account name (bot.info's account)"},
		{Name: "targets", Type: runbooks.ParamAny, Default: []any{},
			Description: "list of {bot, key_id, severity, incident_id} (or bare bot ids); empty selects every bot on the account"},
	},
	// bots: [{bot, account, sub_account, key_id, ips, engine_ips,
	// credential_ref, severity, incident_id}]; bot_ids: the distinct bot
	// ids (what bot.freeze_many takes); unresolved: [{bot, key_id,
	// severity, incident_id, error}].
	Outputs:    []string{"bots", "bot_ids", "count", "unresolved"},
	SideEffect: runbooks.ReadOnly,
	Needs:      []string{"config.bots", "secrets.store"},
	Example:    "- id: select\n  action: bot.select\n  local: true\n  with: {exchange: \"${{ inputs.exchange }}\", targets: \"${{ inputs.targets }}\"}",
}

// selectWorkers bounds the concurrent bot.info lookups (configuration plus
// one secret-store read each).
const selectWorkers = 16

func selectBots(d Deps) activities.Action {
	return activities.Typed(SelectSpec, func(ctx context.Context, req runbooks.ActionRequest, p SelectParams) (runbooks.ActionResult, error) {
		if d.Info == nil {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams, errors.New("no bot configuration available"))
		}
		targets := p.Targets
		if len(targets) == 0 {
			if d.BotsOn == nil {
				return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams, errors.New("no bot roster configured: name the targets"))
			}
			ids, err := d.BotsOn(ctx, p.Exchange)
			if err != nil {
				return runbooks.ActionResult{}, ActivityError(err)
			}
			for _, id := range ids {
				targets = append(targets, Target{Bot: id})
			}
		}
		targets = uniqueTargets(targets)
		infos, errs := lookupAll(ctx, d.Info, targets)
		var bots, unresolved []any
		var ids []any
		seen := map[string]bool{}
		for i, t := range targets {
			if err := errs[i]; err != nil {
				err = ActivityError(err)
				if retryable(err) {
					// A passing fault (secret store down): the whole
					// selection is retried rather than losing the bot.
					return runbooks.ActionResult{}, err
				}
				unresolved = append(unresolved, map[string]any{"bot": t.Bot, "key_id": t.KeyID, "severity": t.Severity,
					"incident_id": t.IncidentID, "error": err.Error()})
				continue
			}
			in := infos[i]
			key := t.KeyID
			if key == "" {
				key = in.KeyID
			}
			bots = append(bots, map[string]any{
				"bot": t.Bot, "account": in.Account, "sub_account": in.SubAccount, "key_id": key,
				"ips": toAny(in.IPs), "engine_ips": toAny(in.EngineIPs), "credential_ref": in.CredentialRef,
				"severity": t.Severity, "incident_id": t.IncidentID,
			})
			if !seen[t.Bot] {
				seen[t.Bot] = true
				ids = append(ids, t.Bot)
			}
		}
		return runbooks.ActionResult{
			Outputs: map[string]any{"bots": orEmpty(bots), "bot_ids": orEmpty(ids), "count": len(ids), "unresolved": orEmpty(unresolved)},
			Summary: fmt.Sprintf("selected %d bots on %s (%d unresolved)", len(ids), p.Exchange, len(unresolved)),
		}, nil
	})
}

// uniqueTargets drops repeats of the same bot and key (a storm can name a
// bot twice); one bot with two leaked keys stays twice: both keys need
// locking out.
func uniqueTargets(ts []Target) []Target {
	seen := map[[2]string]bool{}
	out := make([]Target, 0, len(ts))
	for _, t := range ts {
		k := [2]string{t.Bot, t.KeyID}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, t)
	}
	return out
}

// lookupAll runs bot.info for every target with bounded concurrency; the
// results keep the targets' order.
func lookupAll(ctx context.Context, info func(context.Context, string) (Info, error), ts []Target) ([]Info, []error) {
	infos := make([]Info, len(ts))
	errs := make([]error, len(ts))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(selectWorkers, len(ts)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				infos[i], errs[i] = info(ctx, ts[i].Bot)
			}
		}()
	}
	for i := range ts {
		next <- i
	}
	close(next)
	wg.Wait()
	return infos, errs
}

// retryable reports whether an activity error would be retried.
func retryable(err error) bool {
	var nr interface{ NonRetryable() bool }
	return !errors.As(err, &nr) || !nr.NonRetryable()
}

// orEmpty keeps empty lists as [] rather than null in outputs, so
// templates can take len() of them.
func orEmpty(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}
