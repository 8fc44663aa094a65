package notify_test

import (
	"reflect"
	"testing"

	"github.com/keyresponse/runbook/activities/notify"
	"github.com/keyresponse/runbook/workflows"
)

// The workflow starts notify.ask_approvers with its own copy of the request
// type (workflows must not import activities, and notify keeps off
// workflows): both copies must have the same name, fields, types and JSON
// tags, or the activity would decode a gate without its run or code time.
func TestAskApproversContractMatchesWorkflows(t *testing.T) {
	if notify.AskApproversActivity != workflows.AskApproversActivity {
		t.Fatalf("activity name %q vs %q", notify.AskApproversActivity, workflows.AskApproversActivity)
	}
	a, b := reflect.TypeOf(notify.AskApproversRequest{}), reflect.TypeOf(workflows.AskApproversRequest{})
	if a.NumField() != b.NumField() {
		t.Fatalf("%d fields vs %d", a.NumField(), b.NumField())
	}
	for i := range a.NumField() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || fa.Type != fb.Type || fa.Tag != fb.Tag {
			t.Errorf("field %d: %s %s %q vs %s %s %q", i, fa.Name, fa.Type, fa.Tag, fb.Name, fb.Type, fb.Tag)
		}
	}
}
