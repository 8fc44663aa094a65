package sms

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/keyresponse/runbook/runbooks/authz"
)

// CodeLength is the length of an approval code.
const CodeLength = 6

// codeAlphabet has 32 symbols without the look-alikes 0/O and 1/I, so a code
// read off a phone screen is typed back right.
const codeAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// MinCodeKey is the shortest accepted code key (bytes).
const MinCodeKey = 16

// CodeTTL is how long an approval code texted with a page (or to an
// approver of a gate without an SMS second factor) is answerable. A gate's
// SMS second-factor code lives authz.SMSCodeTTL instead.
const CodeTTL = 24 * time.Hour

// ApprovalCode derives the short code texted with a page: the first 30 bits
// of HMAC-SHA256(key, incident, run, step) in codeAlphabet. The same
// incident, run and step always give the same code, so a retried notify.sms
// sends the same code, while the next run of the same incident id gets a
// new one (a code from run 1 never answers run 2). Without the key nobody
// can compute one (each guess has a 1 in 2^30 chance, and must also come
// from a roster phone through a correctly signed Twilio request).
func ApprovalCode(key []byte, incident, run, step string) (string, error) {
	return derive(key, "runbook/sms-approval-code/v2", incident, run, step)
}

// OperatorCode is the code texted to one approver of one gate (when the gate
// needs no SMS second factor): bound to incident, run, gate and operator, so
// a code texted to alice does not answer for bob.
func OperatorCode(key []byte, operator, incident, run, gate string) (string, error) {
	if len(key) < MinCodeKey {
		return "", errors.New("sms: approval code key must be at least 16 bytes")
	}
	// authz owns the derivation: it checks the code when the engine relays
	// the reply.
	return authz.OperatorReplyCode(key, operator, incident, run, gate), nil
}

func derive(key []byte, domain string, parts ...string) (string, error) {
	if len(key) < MinCodeKey {
		return "", errors.New("sms: approval code key must be at least 16 bytes")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(domain))
	for _, p := range parts {
		// The separator keeps ("inc-1","page") apart from ("inc-1p","age").
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	v := binary.BigEndian.Uint32(m.Sum(nil)[:4]) >> 2 // 30 bits
	var b [CodeLength]byte
	for i := CodeLength - 1; i >= 0; i-- {
		b[i] = codeAlphabet[v&31]
		v >>= 5
	}
	return string(b[:]), nil
}

// NormalizeCode upper-cases a typed code and checks its shape.
func NormalizeCode(s string) (string, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != CodeLength {
		return "", false
	}
	for _, c := range s {
		if !strings.ContainsRune(codeAlphabet, c) {
			return "", false
		}
	}
	return s, true
}
