package sms_test

import (
	"strings"
	"testing"

	"github.com/keyresponse/runbook/integrations/sms"
)

func TestApprovalCode(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	a, err := sms.ApprovalCode(key, "inc-1", "run-1", "page")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := sms.ApprovalCode(key, "inc-1", "run-1", "page")
	if a != again {
		t.Fatalf("not deterministic: %s vs %s", a, again)
	}
	if n, ok := sms.NormalizeCode(strings.ToLower(a)); !ok || n != a || len(a) != sms.CodeLength {
		t.Fatalf("code %q does not normalise back (%q, %v)", a, n, ok)
	}
	others := map[string][4]string{
		"other step":     {string(key), "inc-1", "run-1", "page2"},
		"other run":      {string(key), "inc-1", "run-2", "page"},
		"no run":         {string(key), "inc-1", "", "page"},
		"other incident": {string(key), "inc-2", "run-1", "page"},
		"other key":      {"fedcba9876543210fedcba9876543210", "inc-1", "run-1", "page"},
		// the separator keeps ("run-1","page") apart from ("run-1p","age")
		"shifted split": {string(key), "inc-1", "run-1p", "age"},
	}
	for name, in := range others {
		b, _ := sms.ApprovalCode([]byte(in[0]), in[1], in[2], in[3])
		if b == a {
			t.Errorf("%s gives the same code %s", name, a)
		}
	}
	if _, err := sms.ApprovalCode([]byte("short"), "i", "r", "s"); err == nil {
		t.Fatal("short key accepted")
	}
	// Operator codes are per operator, and never equal the page code.
	alice, _ := sms.OperatorCode(key, "alice", "inc-1", "run-1", "page")
	bob, _ := sms.OperatorCode(key, "bob", "inc-1", "run-1", "page")
	if alice == bob || alice == a {
		t.Fatalf("operator codes alice %s bob %s page %s", alice, bob, a)
	}
}

func TestApprovalCodesSpread(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	seen := map[string]bool{}
	for i := range 2000 {
		c, _ := sms.ApprovalCode(key, "inc", "run", string(rune('a'+i%26))+strings.Repeat("x", i/26))
		seen[c] = true
	}
	// 2000 codes out of 2^30: a collision would point at a broken encoding.
	if len(seen) != 2000 {
		t.Fatalf("%d distinct codes out of 2000", len(seen))
	}
}

func TestNormalizeCodeRejects(t *testing.T) {
	for _, s := range []string{"", "ABC12", "ABCDEFG", "ABCDE0", "ABCDEI", "ABC DE"} {
		if _, ok := sms.NormalizeCode(s); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestTemplate(t *testing.T) {
	tm, err := sms.ParseTemplate("")
	if err != nil {
		t.Fatal(err)
	}
	d := sms.MessageData{IncidentID: "inc-42", Bot: "grid-7", Severity: "critical", Message: "key revoked, bot frozen",
		Code: "K7M2QX", Reply: "approve"}
	body, err := tm.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[CRITICAL]", "inc-42", "grid-7", "key revoked, bot frozen", "APPROVE K7M2QX", "DENY K7M2QX"} {
		if !strings.Contains(body, want) {
			t.Errorf("body %q lacks %q", body, want)
		}
	}
	d.Reply, d.Level = "ack", 1
	body, _ = tm.Render(d)
	if !strings.Contains(body, "ACK K7M2QX") || !strings.Contains(body, "escalated") {
		t.Fatalf("ack/escalated body: %q", body)
	}
	d.Message = strings.Repeat("é", 3000)
	body, err = tm.Render(d)
	if err != nil || len([]rune(body)) > sms.MaxBody || !strings.Contains(body, "ACK K7M2QX") {
		t.Fatalf("long message: %d runes, code kept %v, err %v", len([]rune(body)), strings.Contains(body, "K7M2QX"), err)
	}
}
