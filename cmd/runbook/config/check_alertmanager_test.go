package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAlertmanagerSectionIsChecked(t *testing.T) {
	token := filepath.Join(t.TempDir(), "am-token")
	if err := os.WriteFile(token, []byte("t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		yaml  string
		field string // "" = no problem
	}{
		"addr without auth":  {`alertmanager: {addr: "0.0.0.0:7081"}`, "alertmanager.addr"},
		"bad addr":           {`alertmanager: {addr: "7081", token_env: AM_TOKEN}`, "alertmanager.addr"},
		"token file and env": {`alertmanager: {token_file: ` + token + `, token_env: AM_TOKEN}`, "alertmanager.token_file"},
		"tls without cert":   {`alertmanager: {tls: {client_ca_file: ` + token + `}}`, "alertmanager.tls"},
		"negative cap":       {`alertmanager: {token_env: AM_TOKEN, max_alerts: -1}`, "alertmanager.max_alerts"},
		"token file":         {`alertmanager: {addr: "127.0.0.1:7081", token_file: ` + token + `}`, ""},
		"no section":         {``, ""},
	} {
		c, err := Parse("x.yaml", []byte(tc.yaml))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ps := c.Check()
		if tc.field == "" {
			if len(ps) != 0 {
				t.Errorf("%s: unexpected problems %v", name, ps)
			}
			continue
		}
		found := false
		for _, p := range ps {
			found = found || p.Field == tc.field
		}
		if !found {
			t.Errorf("%s: problems %v, want one on %s", name, ps, tc.field)
		}
	}
	c, _ := Parse("x.yaml", []byte(`alertmanager: {addr: "0.0.0.0:7081"}`))
	if msg := c.Check()[0].Message; !strings.Contains(msg, "token_file") || !strings.Contains(msg, "client_ca_file") {
		t.Errorf("the refusal does not say how to fix it: %s", msg)
	}
	if (Alertmanager{TokenEnv: "X"}).ListenAddr() != "127.0.0.1:7081" {
		t.Error("the default bridge address is not loopback")
	}
}
