package runbooks

import (
	"reflect"
	"strings"
	"testing"
)

// require and second_factor: the two-person rule and the second factor are
// part of the gate in the DSL, checked with file:line like every field.
func TestValidateApprovalRules(t *testing.T) {
	src := `name: gates
steps:
  - id: two
    approval: {group: security, require: 2, second_factor: totp}
  - id: sms
    approval: {group: oncall, second_factor: sms}
  - id: six
    approval: {group: security, require: 6}
  - id: zero
    approval: {group: security, require: 0}
  - id: fido
    approval: {group: security, second_factor: fido}
  - id: words
    approval: {group: security, require: two}
`
	var got []string
	for _, p := range Validate("gates.yaml", []byte(src), testCatalog()) {
		got = append(got, p.String())
	}
	want := []string{
		`gates.yaml:8:42: steps[2].approval.require: must be at most 5, got 6`,
		`gates.yaml:10:42: steps[3].approval.require: must be at least 1, got 0`,
		`gates.yaml:12:48: steps[4].approval.second_factor: value must be one of 'totp', 'sms'`,
		`gates.yaml:14:42: steps[5].approval.require: must be integer, not string`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems differ\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestFormatPlanShowsApprovalRules(t *testing.T) {
	src := `name: gates
steps:
  - id: two
    approval: {group: security, require: 2, second_factor: totp}
  - id: sms
    approval: {group: oncall, second_factor: sms}
  - id: one
    approval: {group: oncall}
`
	if ps := Validate("gates.yaml", []byte(src), testCatalog()); len(ps) > 0 {
		t.Fatalf("valid gates: %v", ps)
	}
	rb, _, err := Parse("gates.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if a := rb.Steps[0].Approval; a.Require != 2 || a.SecondFactor != "totp" {
		t.Fatalf("parsed approval = %+v", a)
	}
	steps, err := Plan(rb, testCatalog(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := FormatPlan(&b, steps); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"1. two: approval by security (2 different approvers, second factor: TOTP code)\n",
		"2. sms: approval by oncall (second factor: code texted to the approver)\n",
		"3. one: approval by oncall\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, b.String())
		}
	}
}
