package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Example public keys (ssh-keygen -t ed25519), no private half kept.
const (
	aliceKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICA8Taa9mrLAGR1EBAATPhgIjKzuE3HQHJHTPrEgs8ff alice@example"
	bobKey   = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAhkODrTMw0fF8FnVvU6/gPfUlHoEuy0UVqQzW4sdUi5 bob@example"
)

// config check names the field of every roster mistake, with authz's reason.
func TestCheckRosterProblemsNameTheirField(t *testing.T) {
	for name, tc := range map[string]struct{ src, field, says string }{
		"unknown role": {
			src:   "operators:\n  - {name: alice, keys: [\"" + aliceKey + "\"], roles: [approvr]}\n",
			field: "operators[0] (alice).roles[0]", says: `unknown role "approvr"`,
		},
		"bad key": {
			src:   "operators:\n  - {name: alice, keys: [\"ssh-rsa AAAAB3NzaC1yc2E= alice\"], roles: [admin]}\n",
			field: "operators[0] (alice).keys[0]", says: "not an OpenSSH public key",
		},
		"duplicate key": {
			src: "operators:\n  - {name: alice, keys: [\"" + aliceKey + "\"], roles: [admin]}\n" +
				"  - {name: bob, keys: [\"" + aliceKey + "\"], roles: [approver]}\n",
			field: "operators[1] (bob).keys[0]", says: "also alice's",
		},
		"custom role redefines a builtin": {
			src:   "roles:\n  admin: {read: true}\noperators:\n  - {name: alice, keys: [\"" + aliceKey + "\"], roles: [admin]}\n",
			field: "roles.admin", says: "built-in",
		},
		"bad phone": {
			src:   "operators:\n  - {name: alice, keys: [\"" + aliceKey + "\"], roles: [admin], phone: \"555-0100\"}\n",
			field: "operators[0].phone", says: "E.164",
		},
		"approvers refused": {
			src:   "approvers:\n  oncall: [alice, bob]\n",
			field: "approvers", says: "replaced by operators with roles",
		},
	} {
		c, err := Parse(name+".yaml", []byte(tc.src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := problemFields(c.Check())
		if !strings.Contains(got[tc.field], tc.says) {
			t.Errorf("%s: problems %v, want %s to say %q", name, got, tc.field, tc.says)
		}
	}
}

func TestCheckAcceptsARosterWithCustomRoles(t *testing.T) {
	c, err := Parse("ok.yaml", []byte(`
roles:
  security-approver: {approve: [security], read: true}
operators:
  - {name: alice, keys: ["`+aliceKey+`"], roles: [responder, approver], phone: "+15550100001"}
  - {name: bob, keys: ["`+bobKey+`"], roles: [security-approver], totp_file: /etc/runbook/totp/bob}
authz: {max_age: 10m}
engine_key_file: /etc/runbook/engine-key/engine-key
`))
	if err != nil {
		t.Fatal(err)
	}
	if ps := c.Check(); len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	if c.Authz.MaxAge.D().Minutes() != 10 || c.Operators[1].TOTPFile == "" || c.Roles["security-approver"].Approve[0] != "security" {
		t.Errorf("decoded %+v", c)
	}
	if ops := c.AuthzOperators(); len(ops) != 2 || ops[0].Name != "alice" || ops[0].Phone != "+15550100001" {
		t.Errorf("AuthzOperators = %+v", ops)
	}
}

// A TOTP secret or engine key others can read is refused by CheckFiles.
func TestCheckFilesWantsPrivateSecrets(t *testing.T) {
	dir := t.TempDir()
	totp := filepath.Join(dir, "totp")
	if err := os.WriteFile(totp, []byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Config{Operators: []Operator{{TOTPFile: totp}}, EngineKeyFile: filepath.Join(dir, "missing")}
	got := problemFields(c.CheckFiles())
	if !strings.Contains(got["operators[0].totp_file"], "chmod 600") || got["engine_key_file"] == "" {
		t.Fatalf("problems %v", got)
	}
	if err := os.Chmod(totp, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTOTPFile(totp); err != nil {
		t.Fatal(err)
	}
}

func TestOldOverrideNamesItsReplacement(t *testing.T) {
	c, _ := Parse("x.yaml", []byte("allow_insecure: [no_approvers]\n"))
	if got := problemFields(c.Check()); !strings.Contains(got["allow_insecure[0]"], InsecureNoOperators) {
		t.Errorf("problems %v", got)
	}
}
