package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/keyresponse/runbook/runbooks"
)

// Validator is implemented by params structs that check themselves.
type Validator interface{ Validate() error }

// Typed builds an Action from a spec and a function over a typed params
// struct P. Params are decoded strictly (unknown fields are an error) and
// validated before run is called; a decode or validation failure is a
// non-retryable InvalidParams error.
func Typed[P any](spec runbooks.ActionSpec, run func(ctx context.Context, req runbooks.ActionRequest, p P) (runbooks.ActionResult, error)) Action {
	return typedAction[P]{spec: spec, run: run}
}

type typedAction[P any] struct {
	spec runbooks.ActionSpec
	run  func(ctx context.Context, req runbooks.ActionRequest, p P) (runbooks.ActionResult, error)
}

func (t typedAction[P]) Spec() runbooks.ActionSpec { return t.spec }

func (t typedAction[P]) Run(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
	p, err := DecodeParams[P](t.spec, req.Params)
	if err != nil {
		return runbooks.ActionResult{}, NonRetryable(ErrInvalidParams, fmt.Errorf("%s: %w", t.spec.Name, err))
	}
	return t.run(ctx, req, p)
}

// DecodeParams applies the spec's defaults, then decodes params into P
// strictly and runs P's Validate if it has one.
func DecodeParams[P any](spec runbooks.ActionSpec, params map[string]any) (P, error) {
	var p P
	merged := map[string]any{}
	for _, ps := range spec.Params {
		if ps.Default != nil {
			merged[ps.Name] = ps.Default
		}
	}
	for k, v := range params {
		merged[k] = v
	}
	for _, ps := range spec.Params {
		if _, ok := merged[ps.Name]; ps.Required && !ok {
			return p, fmt.Errorf("param %q is required", ps.Name)
		}
	}
	b, err := json.Marshal(merged)
	if err != nil {
		return p, fmt.Errorf("params: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("params: %w", err)
	}
	if v, ok := any(&p).(Validator); ok {
		if err := v.Validate(); err != nil {
			return p, err
		}
	}
	return p, nil
}
