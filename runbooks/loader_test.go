package runbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseValidRunbook(t *testing.T) {
	src, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rb, s, err := Parse("testdata/valid.yaml", src)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	sum := sha256.Sum256(src)
	if want := "sha256:" + hex.EncodeToString(sum[:]); s.Hash != want || Hash(src) != want {
		t.Errorf("hash = %s / %s, want %s", s.Hash, Hash(src), want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"name", rb.Name, "contain-test"},
		{"version", rb.Version, "2026.11"},
		{"inputs", len(rb.Inputs), 6},
		{"number default is a JSON number", rb.Inputs[1].Default, float64(5)},
		{"duration default stays text", rb.Inputs[3].Default, "30d"},
		{"list default", rb.Inputs[4].Default, []any{"10.0.0.1", "10.0.0.2"}},
		{"trigger subject", rb.Triggers[0].Subject, "breach.*.key_leaked"},
		{"trigger input", rb.Triggers[0].Inputs["bot"], "${{ event.data.bot }}"},
		{"steps", len(rb.Steps), 4},
		{"retry attempts", rb.Steps[0].Retry.MaxAttempts, 5},
		{"retry interval", rb.Steps[0].Retry.InitialInterval.D(), time.Second},
		{"retry backoff", rb.Steps[0].Retry.BackoffCoefficient, 2.0},
		{"non retryable", rb.Steps[0].Retry.NonRetryable, []string{"AuthenticationError"}},
		{"timeout", rb.Steps[0].Timeout.D(), 2 * time.Minute},
		{"on_failure", rb.Steps[0].OnFailure, OnFailureCompensate},
		{"group kind", rb.Steps[1].Kind(), StepParallel},
		{"nested id", rb.Steps[1].Parallel[1].ID, "tell_hook"},
		{"int param as JSON number", rb.Steps[1].Parallel[1].With["expect_status"], float64(204)},
		{"map param", rb.Steps[1].Parallel[1].With["headers"], map[string]any{"X-Bot": "${{ inputs.bot }}"}},
		{"approval kind", rb.Steps[2].Kind(), StepApproval},
		{"approval", *rb.Steps[2].Approval, Approval{Group: "oncall", Message: "Revoke the key of ${{ inputs.bot }}?", Timeout: Duration(10 * time.Minute), OnTimeout: OnTimeoutSkip}},
		{"compensate", rb.Steps[3].Compensate.Action, "notify.console"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}

	loaded, ls, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !reflect.DeepEqual(loaded, rb) || ls.Hash != s.Hash || ls.File != "testdata/valid.yaml" {
		t.Error("Load and Parse disagree")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "yaml syntax error keeps the line",
			src:  "name: a\n\tsteps: x\n",
			want: []string{"f.yaml:2: found a tab character that violates indentation"},
		},
		{
			name: "unclosed quote",
			src:  "name: a\nsteps:\n  - id: a\n    action: \"x\n",
			want: []string{"f.yaml:4: found unexpected end of stream"},
		},
		{
			name: "empty file",
			src:  "# nothing\n",
			want: []string{"f.yaml:1:1: empty runbook"},
		},
		{
			name: "not a mapping",
			src:  "- id: a\n",
			want: []string{"f.yaml:1:1: must be object, not array"},
		},
		{
			name: "two documents",
			src:  "name: a\nsteps: [{id: a, action: x}]\n---\nname: b\n",
			want: []string{"f.yaml:3: a runbook file holds exactly one YAML document"},
		},
		{
			name: "duplicate key",
			src:  "name: a\nsteps:\n  - id: a\n    action: x\n    action: y\n",
			want: []string{`f.yaml:5:5: steps[0].action: duplicate key "action" (first at line 4)`},
		},
		{
			name: "merge keys are refused",
			src:  "name: a\nbase: &b {action: x}\nsteps:\n  - <<: *b\n    id: a\n",
			want: []string{
				`f.yaml:2:1: base: unknown field "base"`,
				"f.yaml:4:5: steps[0]: YAML merge keys (<<) are not supported; write the fields out",
				`f.yaml:4:5: steps[0]: a step needs one of action, parallel or approval`,
			},
		},
		{
			name: "unknown field with position and suggestion",
			src:  "name: a\nsteps:\n  - id: a\n    action: x\n    wen: inputs.x\n",
			want: []string{`f.yaml:5:5: steps[0].wen: unknown field "wen" (did you mean when?)`},
		},
		{
			name: "wrong type",
			src:  "name: a\nsteps:\n  - id: a\n    action: x\n    retry: {max_attempts: many}\n",
			want: []string{"f.yaml:5:27: steps[0].retry.max_attempts: must be integer, not string"},
		},
		{
			name: "a number where text is wanted",
			src:  "name: a\nversion: 1\nsteps: [{id: a, action: x}]\n",
			want: []string{"f.yaml:2:10: version: must be string, not number (quote it)"},
		},
		{
			name: "special floats are not JSON",
			src:  "name: a\nsteps:\n  - id: a\n    action: x\n    with: {n: .nan}\n",
			want: []string{"f.yaml:5:15: steps[0].with.n: .nan is not a valid JSON number"},
		},
		{
			name: "alias expansion is bounded",
			src:  aliasBomb(),
			want: []string{"document expands to more than 100000 nodes (alias expansion?)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rb, _, err := Parse("f.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", rb)
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T is not Problems: %v", err, err)
			}
			got := make([]string, len(ps))
			for i, p := range ps {
				got[i] = p.String()
			}
			if tc.name == "alias expansion is bounded" {
				// Only the expansion is reported: the rest of a hostile
				// document is not worth reading.
				if len(got) != 1 || !strings.Contains(got[0], tc.want[0]) {
					t.Fatalf("got %q", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// aliasBomb is a "billion laughs" document: each level doubles ten times.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.yaml", Line: 3, Col: 7, Field: "steps[0].action", Message: "bad"}, "a.yaml:3:7: steps[0].action: bad"},
		{Problem{File: "a.yaml", Line: 3, Message: "bad"}, "a.yaml:3: bad"},
		{Problem{File: "a.yaml", Message: "bad"}, "a.yaml: bad"},
	}
	for _, tc := range tests {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
