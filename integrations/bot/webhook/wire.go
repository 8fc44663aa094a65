// Package webhook controls a bot through a signed HTTP webhook: the engine
// POSTs a JSON command, the bot answers with its state.
//
// Request: POST <url>, Content-Type application/json, body
//
//	{"action":"freeze|unfreeze|status|deliver|reload","bot":"<id>","incident":"<id>",
//	 "nonce":"<32 hex>","timestamp":<unix seconds>,"force_exit":false,
//	 "credentials":{"exchange","api_key","secret","passphrase"}}   (deliver only)
//
// with headers X-Runbook-Timestamp: <same unix seconds> and
// X-Runbook-Signature: sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>.
// The bot must check the signature, reject timestamps outside ±5 minutes and
// reject a nonce it has seen (Receiver does all three).
//
// Answer: 2xx {"state":"running|frozen|stopped","open_trades":n,"detail":"…",
// "fingerprint":"…" (deliver: fingerprint of the credentials it now uses)};
// errors: non-2xx {"error":"…"}.
//
// Credentials travel in the body, so deliver is refused unless the URL is
// https or points at a loopback address: the HMAC authenticates the
// command, TLS keeps the secret confidential.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Header names.
const (
	HeaderSignature = "X-Runbook-Signature"
	HeaderTimestamp = "X-Runbook-Timestamp"
)

// Actions.
const (
	ActionFreeze   = "freeze"
	ActionUnfreeze = "unfreeze"
	ActionStatus   = "status"
	ActionDeliver  = "deliver"
	ActionReload   = "reload"
)

// DefaultWindow is how far a request's timestamp may be from the
// receiver's clock.
const DefaultWindow = 5 * time.Minute

// Request is the command body.
type Request struct {
	Action      string           `json:"action"`
	Bot         string           `json:"bot"`
	Incident    string           `json:"incident,omitempty"`
	Nonce       string           `json:"nonce"`
	Timestamp   int64            `json:"timestamp"`
	ForceExit   bool             `json:"force_exit,omitempty"`
	Credentials *wireCredentials `json:"credentials,omitempty"`
}

// wireCredentials is the only place the secret is serialised; it is
// unexported so nothing else can marshal it by accident.
type wireCredentials struct {
	Exchange   string `json:"exchange,omitempty"`
	APIKey     string `json:"api_key"`
	Secret     string `json:"secret"`
	Passphrase string `json:"passphrase,omitempty"`
}

// Response is the bot's answer.
type Response struct {
	State       string `json:"state,omitempty"`
	OpenTrades  int    `json:"open_trades"`
	Detail      string `json:"detail,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Sign returns the X-Runbook-Signature value for body sent at ts.
func Sign(key []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks sig against body and ts in constant time.
func VerifySignature(key []byte, ts int64, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(key, ts, body)), []byte(sig))
}
