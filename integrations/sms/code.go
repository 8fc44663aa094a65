package sms

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
)

// CodeLength is the length of an approval code.
const CodeLength = 6

// codeAlphabet has 32 symbols without the look-alikes 0/O and 1/I, so a code
// read off a phone screen is typed back right.
const codeAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// MinCodeKey is the shortest accepted code key (bytes).
const MinCodeKey = 16

// ApprovalCode derives the short code texted with a page: the first 30 bits
// of HMAC-SHA256(key, incident, step) in codeAlphabet. The same incident and
// step always give the same code, so a retried or replayed notify.sms sends
// the same code; without the key nobody can compute one (each guess has a
// 1 in 2^30 chance, and must also come from a roster phone through a
// correctly signed Twilio request).
func ApprovalCode(key []byte, incident, step string) (string, error) {
	if len(key) < MinCodeKey {
		return "", errors.New("sms: approval code key must be at least 16 bytes")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("runbook/sms-approval-code/v1\x00"))
	m.Write([]byte(incident))
	m.Write([]byte{0})
	m.Write([]byte(step))
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
