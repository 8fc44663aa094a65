package bot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestCredentialsNeverPrintTheSecret(t *testing.T) {
	c := Credentials{Exchange: "okx", APIKey: "AKIAPUBLICKEYID123", Secret: "canary-secret-7f3a", Passphrase: "canary-pass-9b1c"}
	var outs []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		outs = append(outs, fmt.Sprintf(f, c), fmt.Sprintf(f, &c))
	}
	outs = append(outs, fmt.Sprint(c), fmt.Sprintf("%v", []Credentials{c}), fmt.Sprintf("%+v", struct{ C Credentials }{c}))
	j, err := json.Marshal(struct{ C Credentials }{c})
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	y, err := yaml.Marshal(map[string]any{"c": c})
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(y))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("deliver", "creds", c)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("deliver", "creds", c)
	outs = append(outs, buf.String())
	for _, o := range outs {
		for _, secret := range []string{c.Secret, c.Passphrase, "canary"} {
			if strings.Contains(strings.ToLower(o), secret) {
				t.Fatalf("output %q contains %q", o, secret)
			}
		}
		if !strings.Contains(o, c.Fingerprint()) {
			t.Fatalf("output %q does not carry the fingerprint", o)
		}
	}
}

func TestFingerprintTellsCredentialsApart(t *testing.T) {
	a := Credentials{APIKey: "k", Secret: "s1"}
	b := Credentials{APIKey: "k", Secret: "s2"}
	if a.Fingerprint() == b.Fingerprint() || len(a.Fingerprint()) != 12 {
		t.Fatalf("fingerprints %s %s", a.Fingerprint(), b.Fingerprint())
	}
	// The separator keeps field boundaries: "ab"+"c" differs from "a"+"bc".
	if (Credentials{APIKey: "ab", Secret: "c"}).Fingerprint() == (Credentials{APIKey: "a", Secret: "bc"}).Fingerprint() {
		t.Fatal("fingerprint ignores field boundaries")
	}
}
