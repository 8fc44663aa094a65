package operatorkey_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks/authz"
)

func policyFor(t *testing.T, pubLine string) *authz.Compiled {
	t.Helper()
	c, err := authz.Compile(authz.Policy{Operators: []authz.Operator{{Name: "alice", Keys: []string{pubLine}, Roles: []string{"approver"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSignedByGeneratedKeyVerifies(t *testing.T) {
	dir := t.TempDir()
	s, err := operatorkey.Generate(filepath.Join(dir, "id_ed25519"), "alice@test")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := os.ReadFile(filepath.Join(dir, "id_ed25519.pub"))
	c := policyFor(t, string(pub))
	now := time.Now()
	st := authz.Statement{Verb: authz.VerbApprove, Operator: "alice", Incident: "i", Run: "r", Step: "gate", IssuedAt: now, Expires: now.Add(time.Minute)}
	sg, err := operatorkey.Sign(s, st)
	if err != nil {
		t.Fatal(err)
	}
	req := authz.Request{Verb: authz.VerbApprove, Incident: "i", Run: "r", Step: "gate", Group: "oncall", Now: now, Signed: &sg}
	v, err := c.Authorize(req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Operator != "alice" || !strings.HasPrefix(v.Fingerprint, "SHA256:") {
		t.Fatalf("verified %+v", v)
	}
	// Negative control: the same statement for another step is refused.
	req.Step = "other"
	if _, err := c.Authorize(req, nil); err == nil || !strings.Contains(err.Error(), "step") {
		t.Fatalf("other step: %v", err)
	}
	// A reloaded key is the same signer.
	s2, err := operatorkey.Load(filepath.Join(dir, "id_ed25519"))
	if err != nil || string(s2.PublicKey().Marshal()) != string(s.PublicKey().Marshal()) {
		t.Fatalf("load: %v", err)
	}
}

// An existing key signed by OpenSSH itself (`ssh-keygen -Y sign`, what git
// uses for SSH commit signing) verifies as a statement signature.
func TestSignatureMadeBySSHKeygenVerifies(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not installed")
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice@laptop", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	pub, _ := os.ReadFile(key + ".pub")
	c := policyFor(t, string(pub))
	now := time.Now()
	msg, _ := authz.Statement{Verb: authz.VerbDeny, Operator: "alice", Incident: "i", Run: "r", Step: "g",
		IssuedAt: now, Expires: now.Add(time.Minute), Nonce: operatorkey.NewNonce()}.Encode()
	file := filepath.Join(dir, "statement.json")
	if err := os.WriteFile(file, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-n", authz.Namespace, "-f", key, file).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	sig, _ := os.ReadFile(file + ".sig")
	sg := authz.Signed{Statement: string(msg), Signature: string(sig)}
	if _, err := c.Authorize(authz.Request{Verb: authz.VerbDeny, Incident: "i", Run: "r", Step: "g", Group: "x", Now: now, Signed: &sg}, nil); err != nil {
		t.Fatal(err)
	}
	// And our signature verifies with ssh-keygen -Y verify.
	s, _ := operatorkey.Load(key)
	ours, _ := operatorkey.Sign(s, authz.Statement{Verb: authz.VerbDeny, Operator: "alice", IssuedAt: now, Expires: now.Add(time.Minute)})
	allowed := filepath.Join(dir, "allowed")
	os.WriteFile(allowed, []byte("alice "+string(pub)), 0o600)
	os.WriteFile(file, []byte(ours.Statement), 0o600)
	os.WriteFile(file+".sig", []byte(ours.Signature), 0o600)
	cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "alice", "-n", authz.Namespace, "-s", file+".sig")
	cmd.Stdin = strings.NewReader(ours.Statement)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y verify: %v: %s", err, out)
	}
}
