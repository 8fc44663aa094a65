// Package activities adapts actions (one small package per action kind under
// activities/…) to Temporal activities. Each action declares its spec; the
// Registry is the explicit list the worker registers, and it implements
// runbooks.Catalog for validation and planning.
package activities

import (
	"context"
	"fmt"
	"sort"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/keyresponse/runbook/runbooks"
)

// Action is one runnable action. Run must be idempotent under retry and
// replay: the same ActionRequest (incident, step, params) may arrive more than
// once and must not repeat its side effect.
type Action interface {
	Spec() runbooks.ActionSpec
	Run(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error)
}

// Hook observes every action run (the audit trail and metrics plug in here).
// Hooks must not fail the action: they report their own problems.
type Hook interface {
	ActionStarted(ctx context.Context, req runbooks.ActionRequest, attempt int32)
	ActionFinished(ctx context.Context, req runbooks.ActionRequest, attempt int32, res runbooks.ActionResult, err error)
}

// Registry holds the actions by name.
type Registry struct {
	actions map[string]Action
	hooks   []Hook
}

// NewRegistry builds a registry from an explicit list; duplicate or invalid
// specs are an error so a bad wiring fails at start, not mid-incident.
func NewRegistry(actions ...Action) (*Registry, error) {
	r := &Registry{actions: map[string]Action{}}
	for _, a := range actions {
		if err := r.Add(a); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add registers one more action.
func (r *Registry) Add(a Action) error {
	s := a.Spec()
	if s.Name == "" {
		return fmt.Errorf("action %T has no name", a)
	}
	switch s.SideEffect {
	case runbooks.ReadOnly, runbooks.Reversible, runbooks.Irreversible:
	default:
		return fmt.Errorf("action %s: side effect %q is not one of read-only, reversible, irreversible", s.Name, s.SideEffect)
	}
	if _, dup := r.actions[s.Name]; dup {
		return fmt.Errorf("action %s registered twice", s.Name)
	}
	r.actions[s.Name] = a
	return nil
}

// AddHook adds an observer called around every action run.
func (r *Registry) AddHook(h Hook) { r.hooks = append(r.hooks, h) }

// Action implements runbooks.Catalog.
func (r *Registry) Action(name string) (runbooks.ActionSpec, bool) {
	a, ok := r.actions[name]
	if !ok {
		return runbooks.ActionSpec{}, false
	}
	return a.Spec(), true
}

// Actions implements runbooks.Catalog, sorted by name.
func (r *Registry) Actions() []runbooks.ActionSpec {
	out := make([]runbooks.ActionSpec, 0, len(r.actions))
	for _, a := range r.actions {
		out = append(out, a.Spec())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Meta resolves the run-time facts the workflow needs for the given actions.
func (r *Registry) Meta(names []string) map[string]runbooks.ActionMeta {
	out := map[string]runbooks.ActionMeta{}
	for _, n := range names {
		if a, ok := r.actions[n]; ok {
			out[n] = a.Spec().Meta()
		}
	}
	return out
}

// Run executes one action by name outside Temporal (tests, tools).
func (r *Registry) Run(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
	a, ok := r.actions[req.Action]
	if !ok {
		return runbooks.ActionResult{}, NonRetryable(ErrInvalidParams, fmt.Errorf("unknown action %q", req.Action))
	}
	return a.Run(ctx, req)
}

// RegisterWith registers every action as a Temporal activity whose type name
// is the action name, wrapped with the hooks.
func (r *Registry) RegisterWith(w worker.ActivityRegistry) {
	for name, a := range r.actions {
		a := a
		fn := func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
			attempt := activity.GetInfo(ctx).Attempt
			for _, h := range r.hooks {
				h.ActionStarted(ctx, req, attempt)
			}
			res, err := a.Run(ctx, req)
			res.Attempt = attempt
			for _, h := range r.hooks {
				h.ActionFinished(ctx, req, attempt, res, err)
			}
			return res, withAttempt(err, attempt)
		}
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}
