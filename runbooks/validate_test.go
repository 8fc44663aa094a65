package runbooks

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestValidateTestdata runs Validate over the runbooks in testdata/ and
// compares every finding, position included, with what a user should see.
func TestValidateTestdata(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"valid.yaml", nil},
		{"misspelled-action.yaml", []string{
			`11:13: steps[2].action: unknown action "exchange.revoke_kye" (did you mean exchange.revoke_key?)`,
		}},
		{"bad-params.yaml", []string{
			`6:14: steps[0].with.count: param "count" must be an integer, got number 1.5`,
			`7:14: steps[0].with.ratio: param "ratio" must be a number, got string "high"`,
			`8:13: steps[0].with.flag: param "flag" must be true or false, got string "yes"`,
			`9:15: steps[0].with.period: param "period": invalid duration "3 weeks" (use e.g. 30s, 5m, 2h, 30d)`,
			`10:7: steps[0].with.names: param "names" must be a list of strings, item 1 is number 2`,
			`11:7: steps[0].with.extra: unknown param "extra" for action test.types (params: count, ratio, flag, period, names, anything, colour, amount)`,
			`13:15: steps[0].with.colour: param "colour": "purple" is not one of red, green`,
			`17:5: steps[1].with: missing required param "url" for action http.request`,
			`18:7: steps[1].with.methd: unknown param "methd" for action http.request (did you mean method?)`,
			`20:5: steps[2].action: missing required param "duration" for action core.wait`,
		}},
		{"bad-refs.yaml", []string{
			`9:16: steps[0].with.message: reference to later step "second" (steps run in order)`,
			`13:16: steps[1].with.message: step "second" refers to itself`,
			`13:16: steps[1].with.message: undeclared input "bott" (did you mean bot?)`,
			`19:20: steps[2].parallel[0].with.message: reference to step "right" of the same parallel group (they run concurrently)`,
			`22:15: steps[2].parallel[1].when: reference to enclosing parallel group "group", which finishes after this step`,
			`24:20: steps[2].parallel[1].with.message: step "first" (notify.console) has no output "printd" (did you mean printed?) (outputs: printed)`,
			`27:11: steps[3].when: unknown name "input" (did you mean inputs?) (available: inputs, event, steps, incident)`,
			`29:16: steps[3].with.message: reference to unknown step "nope"`,
			`29:16: steps[3].with.message: step "group" is a parallel group and has no outputs`,
			`29:16: steps[3].with.message: steps.first has no "state" (use steps.first.status or steps.first.outputs.<name>)`,
			`37:16: steps[5].with.message: reference to unknown step "revoke" (for id "revoke-key" write steps["revoke-key"])`,
			`37:16: steps[5].with.message: unknown name "key" (available: inputs, event, steps, incident)`,
		}},
		{"duplicate-ids.yaml", []string{
			`8:13: steps[1].parallel[0].id: duplicate step id "notify" (first defined at line 3)`,
			`11:13: steps[1].parallel[1].id: duplicate step id "group" (first defined at line 6)`,
		}},
		{"bad-triggers.yaml", []string{
			`7:14: triggers[0].subject: subject "breach..leaked" has an empty token`,
			`8:11: triggers[0].when: invalid expression "event.data.severity ==": unexpected token EOF (1:22)`,
			`11:14: triggers[1].subject: subject "breach.>.x": '>' must be the last token`,
			`13:7: triggers[1].inputs.bots: trigger sets undeclared input "bots" (did you mean bot?)`,
			`14:12: triggers[1].inputs.bot: unknown name "inputs" (available: event)`,
			`15:5: triggers[2]: trigger does not set required input "bot"`,
			`15:14: triggers[2].subject: subject "breach.ke*": wildcards must be whole tokens`,
		}},
		{"bad-schema.yaml", []string{
			`1:7: name: invalid runbook name "Bad_Name": use kebab-case, e.g. contain-key-breach`,
			`2:1: versoin: unknown field "versoin" (did you mean version?)`,
			`5:11: inputs[0].type: value must be one of 'string', 'number', 'bool', 'duration', 'list', 'map'`,
			`7:9: steps[0].id: invalid id "1st": use lowercase letters, digits, _ and -, starting with a letter`,
			`9:14: steps[0].timeout: invalid duration "5 minutes" (use e.g. 30s, 5m, 2h, 30d)`,
			`10:17: steps[0].on_failure: value must be one of 'abort', 'continue', 'compensate'`,
			`12:5: steps[1]: a step has exactly one of action, parallel or approval`,
			`15:5: steps[2]: a step needs one of action, parallel or approval`,
			`18:5: steps[3].approval: missing required field "group"`,
			`20:19: steps[3].approval.on_timeout: value must be one of 'abort', 'continue', 'skip'`,
			`23:9: steps[4].parallel[0]: parallel groups cannot be nested`,
			`26:13: steps[4].parallel[0].parallel[0].action: missing required param "message" for action notify.console`,
			`31:21: steps[5].retry.max_attempts: must be at least 1, got 0`,
			`32:28: steps[5].retry.backoff_coefficient: must be at least 1, got 0.5`,
			`34:21: steps[5].retry.max_interval: max_interval 1s is shorter than initial_interval 1m0s`,
		}},
		{"bad-misc.yaml", []string{
			`5:11: inputs[1].name: duplicate input "bot"`,
			`7:14: inputs[1].default: default does not fit type number: "many" is not a number`,
			`15:21: steps[1].with.message: keys() is not allowed: it lists a map in random order, and runbook expressions must give the same result on workflow replay`,
			`18:15: steps[1].compensate.action: unknown action "exchange.unfreze_bot" (did you mean exchange.unfreeze_bot?)`,
			`21:21: steps[2].with.message: unterminated ${{ template (close it with }})`,
			`24:44: steps[2].compensate.with.colour: unknown param "colour" for action exchange.unfreeze_bot (params: bot)`,
			`26:5: steps[3].timeout: an approval gate's timeout goes in approval.timeout`,
			`28:5: steps[3].with: with is only allowed on action steps`,
			`31:11: steps[4].when: invalid expression "inputs.bot ==": unexpected token EOF (1:13)`,
			`32:21: steps[4].with.message: invalid expression "inputs.bot +": unexpected token EOF (1:12)`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := "testdata/" + tc.file
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range Validate(path, src, testCatalog()) {
				got = append(got, p.String())
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, path+":"+w)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("problems differ\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// A misspelled action is the most common mistake: the finding must carry
// the file, the exact position of the name, the field path and a fix.
func TestValidateMisspelledAction(t *testing.T) {
	src, err := os.ReadFile("testdata/misspelled-action.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps := Validate("runbooks/misspelled.yaml", src, testCatalog())
	if len(ps) != 1 {
		t.Fatalf("want 1 problem, got %v", ps)
	}
	want := Problem{File: "runbooks/misspelled.yaml", Line: 11, Col: 13, Field: "steps[2].action",
		Message: `unknown action "exchange.revoke_kye" (did you mean exchange.revoke_key?)`}
	if ps[0] != want {
		t.Errorf("got %+v\nwant %+v", ps[0], want)
	}
	if got := ps[0].String(); got != `runbooks/misspelled.yaml:11:13: steps[2].action: unknown action "exchange.revoke_kye" (did you mean exchange.revoke_key?)` {
		t.Errorf("String() = %s", got)
	}
}

// Each reference rule on its own, so a failure names the rule.
func TestValidateReferences(t *testing.T) {
	const head = "name: refs\ninputs:\n  - name: bot\n    type: string\nsteps:\n"
	tests := []struct {
		name  string
		steps string
		want  string // "" means valid
	}{
		{"earlier step output", `
  - id: a
    action: notify.console
    with: {message: x}
  - id: b
    action: notify.console
    with: {message: "${{ steps.a.outputs.printed }}"}`, ""},
		{"forward reference", `
  - id: a
    action: notify.console
    with: {message: "${{ steps.b.status }}"}
  - id: b
    action: notify.console
    with: {message: x}`, `reference to later step "b" (steps run in order)`},
		{"cycle is reported as a forward reference", `
  - id: a
    action: notify.console
    with: {message: "${{ steps.b.outputs.printed }}"}
  - id: b
    action: notify.console
    with: {message: "${{ steps.a.outputs.printed }}"}`, `reference to later step "b" (steps run in order)`},
		{"self reference in when", `
  - id: a
    action: notify.console
    when: steps.a.status == "succeeded"
    with: {message: x}`, `step "a" refers to itself`},
		{"sibling in a parallel group", `
  - id: g
    parallel:
      - id: a
        action: notify.console
        with: {message: x}
      - id: b
        action: notify.console
        with: {message: "${{ steps.a.outputs.printed }}"}`, `reference to step "a" of the same parallel group (they run concurrently)`},
		{"after a group may read its members", `
  - id: g
    parallel:
      - id: a
        action: notify.console
        with: {message: x}
  - id: b
    action: notify.console
    with: {message: "${{ steps.a.outputs.printed }} ${{ steps.g.status }}"}`, ""},
		{"a group's condition cannot read its members", `
  - id: g
    when: steps.a.status == "succeeded"
    parallel:
      - id: a
        action: notify.console
        with: {message: x}`, `reference to later step "a" (it runs inside this group)`},
		{"index syntax and optional chaining are references too", `
  - id: a
    action: notify.console
    with: {message: "${{ steps[\"b\"]?.outputs.printed }}"}
  - id: b
    action: notify.console
    with: {message: x}`, `reference to later step "b" (steps run in order)`},
		{"text that only looks like a reference is not one", `
  - id: a
    action: notify.console
    with: {message: "${{ 'steps.zz.status' }}"}`, ""},
		{"let-bound names are not inputs", `
  - id: a
    action: notify.console
    with: {message: "${{ let x = inputs.bot; x + '!' }}"}`, ""},
		{"undeclared input", `
  - id: a
    action: notify.console
    with: {message: "${{ inputs.url }}"}`, `undeclared input "url"`},
		{"undeclared output", `
  - id: a
    action: http.request
    with: {url: "http://127.0.0.1:1"}
  - id: b
    action: notify.console
    with: {message: "${{ steps.a.outputs.code }}"}`, `step "a" (http.request) has no output "code" (outputs: status, body)`},
		{"unknown function", `
  - id: a
    action: notify.console
    with: {message: "${{ shout(inputs.bot) }}"}`, `unknown function "shout"`},
		{"clock is off limits", `
  - id: a
    action: notify.console
    when: now() != nil
    with: {message: x}`, `now() is not allowed: it reads the clock, and runbook expressions must give the same result on workflow replay`},
		{"compensation sees params and outputs", `
  - id: a
    action: http.request
    with: {url: "http://127.0.0.1:1"}
    compensate:
      action: notify.console
      with: {message: "${{ params.url }} ${{ outputs.status }} ${{ steps.a.outputs.body }}"}`, ""},
		{"compensation outputs are checked", `
  - id: a
    action: http.request
    with: {url: "http://127.0.0.1:1"}
    compensate:
      action: notify.console
      with: {message: "${{ outputs.code }}"}`, `step "a" (http.request) has no output "code" (outputs: status, body)`},
		{"params only exist in compensations", `
  - id: a
    action: notify.console
    with: {message: "${{ params.x }}"}`, `unknown name "params" (available: inputs, event, steps, incident)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := Validate("r.yaml", []byte(head+strings.TrimPrefix(tc.steps, "\n")+"\n"), testCatalog())
			if tc.want == "" {
				if len(ps) != 0 {
					t.Fatalf("want no problems, got %v", ps)
				}
				return
			}
			if len(ps) != 1 || ps[0].Message != tc.want {
				t.Fatalf("want exactly %q, got %v", tc.want, ps)
			}
		})
	}
}

// on_failure: compensate on a step with nothing to undo is fine; only a
// compensation naming an unknown action is an error.
func TestValidateCompensation(t *testing.T) {
	src := `name: comp
steps:
  - id: say
    action: notify.console
    with: {message: x}
    on_failure: compensate
  - id: freeze
    action: exchange.freeze_bot
    with: {bot: a}
    on_failure: compensate
`
	if ps := Validate("c.yaml", []byte(src), testCatalog()); len(ps) != 0 {
		t.Fatalf("want valid, got %v", ps)
	}
}

func TestCheckSubjectPattern(t *testing.T) {
	for subject, ok := range map[string]bool{
		"breach.*.key_leaked": true,
		"breach.>":            true,
		">":                   true,
		"breach":              true,
		"":                    false,
		"breach.":             false,
		".breach":             false,
		"breach.>.x":          false,
		"breach.a b":          false,
		"breach.k*":           false,
		"breach.>x":           false,
	} {
		if err := CheckSubjectPattern(subject); (err == nil) != ok {
			t.Errorf("CheckSubjectPattern(%q) = %v, want ok=%v", subject, err, ok)
		}
	}
}

func TestDisabledBuiltinsFailAtRunTime(t *testing.T) {
	scope := Scope{Inputs: map[string]any{"a": 1, "b": 2}}
	for _, src := range []string{"keys(inputs)", "values(inputs)", "toPairs(inputs)", "now()", "date('2026-01-01')"} {
		if _, err := Eval(src, scope); err == nil {
			t.Errorf("%s evaluated; it must be disabled", src)
		}
	}
	if v, err := Eval("len(inputs)", scope); err != nil || v != 2 {
		t.Errorf("len(inputs) = %v, %v", v, err)
	}
}
