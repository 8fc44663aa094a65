package runbooks

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const inputsRunbook = `name: inputs
inputs:
  - name: bot
    type: string
    required: true
  - name: limit
    type: number
    default: 5
  - name: dry
    type: bool
  - name: grace
    type: duration
    default: 30d
  - name: ips
    type: list
  - name: labels
    type: map
steps:
  - id: a
    action: notify.console
    with: {message: x}
`

func TestResolveInputs(t *testing.T) {
	rb, _, err := Parse("i.yaml", []byte(inputsRunbook))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		given   map[string]string
		want    map[string]any
		wantErr []string // every fragment must appear
	}{
		{
			name:  "defaults fill the gaps",
			given: map[string]string{"bot": "alpha"},
			want:  map[string]any{"bot": "alpha", "limit": 5.0, "grace": "30d"},
		},
		{
			name: "every type parses",
			given: map[string]string{"bot": "alpha", "limit": "2.5", "dry": "true", "grace": "90m",
				"ips": "10.0.0.1, 10.0.0.2,", "labels": `{"team":"mm","tier":1}`},
			want: map[string]any{"bot": "alpha", "limit": 2.5, "dry": true, "grace": "90m",
				"ips": []any{"10.0.0.1", "10.0.0.2"}, "labels": map[string]any{"team": "mm", "tier": 1.0}},
		},
		{
			name:    "missing required input says how to pass it",
			given:   map[string]string{},
			wantErr: []string{"missing required input(s) bot: pass --input bot=<string>"},
		},
		{
			name:    "unknown name suggests the declared one",
			given:   map[string]string{"bot": "a", "limt": "3"},
			wantErr: []string{`unknown input "limt" (did you mean limit?) (runbook inputs declares: bot, limit, dry, grace, ips, labels)`},
		},
		{
			name:  "bad values are all reported",
			given: map[string]string{"bot": "a", "limit": "ten", "dry": "maybe", "grace": "3 weeks", "labels": "team=mm"},
			wantErr: []string{
				`input "limit": "ten" is not a number`,
				`input "dry": "maybe" is not a bool (use true or false)`,
				`input "grace": invalid duration "3 weeks"`,
				`input "labels": want a JSON object like {"k":"v"}, got "team=mm"`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveInputs(rb, tc.given)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("want error, got %v", got)
				}
				for _, frag := range tc.wantErr {
					if !strings.Contains(err.Error(), frag) {
						t.Errorf("error %q lacks %q", err, frag)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestResolveInputValues(t *testing.T) {
	rb, _, err := Parse("i.yaml", []byte(inputsRunbook))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ResolveInputValues(rb, map[string]any{
		"bot": "alpha", "limit": 3, "dry": false, "ips": []string{"1.2.3.4"}, "labels": map[string]any{"a": "b"}, "grace": "1h",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"bot": "alpha", "limit": 3.0, "dry": false, "ips": []any{"1.2.3.4"}, "labels": map[string]any{"a": "b"}, "grace": "1h"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
	// A string from a template is parsed like the command line.
	got, err = ResolveInputValues(rb, map[string]any{"bot": "alpha", "limit": "7"})
	if err != nil || got["limit"] != 7.0 {
		t.Errorf("limit from string = %v, %v", got["limit"], err)
	}
	if _, err := ResolveInputValues(rb, map[string]any{"bot": "alpha", "dry": 1.0}); err == nil || !strings.Contains(err.Error(), `input "dry": want bool, got number 1`) {
		t.Errorf("wrong type error = %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30s", 30 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"30d", 30 * 24 * time.Hour, true},
		{"007d", 0, false},
		{"-1d", 0, false},
		{"200000d", 0, false}, // would overflow int64 nanoseconds
		{"3 weeks", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseDuration(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got.D() != tc.want) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
