package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"

	"github.com/keyresponse/runbook/integrations/secrets"
)

// Environment variables read by CredentialsFromEnv (twilio-go's own names).
const (
	EnvAccountSID = "TWILIO_ACCOUNT_SID"
	EnvAuthToken  = "TWILIO_AUTH_TOKEN"
)

// Credentials authenticate to Twilio. The auth token is a secret: String,
// GoString, LogValue and MarshalJSON all leave it out, so a stray log line or
// an output map cannot leak it. Store it with EncodeCredentials.
type Credentials struct {
	AccountSID string
	AuthToken  string
}

// twilio-go refuses (client-side, codes 21222/21224) any SID or token that is
// not purely alphanumeric; checking at load time gives a clear error instead.
var alnum = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// Validate checks both parts are present and alphanumeric.
func (c Credentials) Validate() error {
	if !alnum.MatchString(c.AccountSID) {
		return errors.New("twilio account SID is empty or not alphanumeric")
	}
	if !alnum.MatchString(c.AuthToken) {
		return errors.New("twilio auth token is empty or not alphanumeric")
	}
	return nil
}

func (c Credentials) String() string {
	return "twilio account " + maskID(c.AccountSID) + " (auth token hidden)"
}

// GoString keeps %#v from printing the token.
func (c Credentials) GoString() string { return c.String() }

// LogValue keeps slog from printing the token.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON writes the SID only.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"account_sid": c.AccountSID, "auth_token": "[hidden]"})
}

// storedCredentials is the secret-store form.
type storedCredentials struct {
	AccountSID string `json:"account_sid"`
	AuthToken  string `json:"auth_token"`
}

// EncodeCredentials serialises c for the secret store (JSON with
// account_sid and auth_token).
func EncodeCredentials(c Credentials) []byte {
	b, _ := json.Marshal(storedCredentials(c))
	return b
}

// CredentialsFromEnv reads TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN
// (getenv nil means os.Getenv).
func CredentialsFromEnv(getenv func(string) string) (Credentials, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Credentials{AccountSID: strings.TrimSpace(getenv(EnvAccountSID)), AuthToken: strings.TrimSpace(getenv(EnvAuthToken))}
	if err := c.Validate(); err != nil {
		return Credentials{}, fmt.Errorf("%s/%s: %w", EnvAccountSID, EnvAuthToken, err)
	}
	return c, nil
}

// CredentialsFromStore loads the credentials from the secret store. The
// stored value is either JSON {"account_sid","auth_token"} or the bare auth
// token, in which case accountSID (non-secret config) supplies the SID.
func CredentialsFromStore(ctx context.Context, store secrets.Store, ref, accountSID string) (Credentials, error) {
	if store == nil {
		return Credentials{}, errors.New("no secret store configured for the twilio token")
	}
	r, err := secrets.ParseRef(ref)
	if err != nil {
		return Credentials{}, err
	}
	b, err := store.Get(ctx, r)
	if err != nil {
		return Credentials{}, fmt.Errorf("twilio credentials %s: %w", r, err)
	}
	var c Credentials
	var s storedCredentials
	if json.Unmarshal(b, &s) == nil && s.AuthToken != "" {
		c = Credentials(s)
	} else {
		c.AuthToken = strings.TrimSpace(string(b))
	}
	if c.AccountSID == "" {
		c.AccountSID = accountSID
	}
	if err := c.Validate(); err != nil {
		return Credentials{}, fmt.Errorf("twilio credentials %s: %w", r, err)
	}
	return c, nil
}

// maskID keeps the first and last four characters of an identifier.
func maskID(s string) string {
	if len(s) <= 10 {
		if s == "" {
			return `""`
		}
		return "…" + s[len(s)-2:]
	}
	return s[:4] + "…" + s[len(s)-4:]
}
