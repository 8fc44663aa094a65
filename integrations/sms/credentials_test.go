package sms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/integrations/sms"
)

func TestCredentialsNeverPrintTheToken(t *testing.T) {
	c := sms.Credentials{AccountSID: testSID, AuthToken: testToken}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "creds", c)
	js, _ := json.Marshal(c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v", c, c, c), string(js), logged.String()} {
		if strings.Contains(s, testToken) {
			t.Fatalf("token leaked: %s", s)
		}
	}
}

func TestCredentialsFromEnv(t *testing.T) {
	env := map[string]string{sms.EnvAccountSID: testSID, sms.EnvAuthToken: testToken}
	c, err := sms.CredentialsFromEnv(func(k string) string { return env[k] })
	if err != nil || c.AccountSID != testSID || c.AuthToken != testToken {
		t.Fatalf("%+v %v", c, err)
	}
	env[sms.EnvAuthToken] = ""
	if _, err := sms.CredentialsFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Fatal("missing token accepted")
	}
}

func TestCredentialsFromStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := secrets.OpenFile(filepath.Join(dir, "secrets"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, "twilio/main", sms.EncodeCredentials(sms.Credentials{AccountSID: testSID, AuthToken: testToken}), nil); err != nil {
		t.Fatal(err)
	}
	c, err := sms.CredentialsFromStore(ctx, store, "twilio/main", "")
	if err != nil || c.AccountSID != testSID || c.AuthToken != testToken {
		t.Fatalf("json form: %+v %v", c, err)
	}
	if _, err := store.Put(ctx, "twilio/token", []byte(testToken+"\n"), nil); err != nil {
		t.Fatal(err)
	}
	c, err = sms.CredentialsFromStore(ctx, store, "twilio/token", testSID)
	if err != nil || c.AccountSID != testSID || c.AuthToken != testToken {
		t.Fatalf("bare token form: %+v %v", c, err)
	}
}
