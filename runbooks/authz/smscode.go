package authz

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"time"
)

// SMSCodeTTL is how long an SMS second-factor code is good for after the
// gate texted it.
const SMSCodeTTL = 15 * time.Minute

// SMSCodeLength and smsAlphabet: 6 symbols from 32 without look-alikes
// (0/O, 1/I), 30 bits.
const SMSCodeLength = 6

const smsAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// MinSMSCodeKey is the shortest accepted code key.
const MinSMSCodeKey = 16

// SMSFactorCode is the second-factor code texted to operator for one gate of
// one run: HMAC-SHA256(key, operator, incident, run, step, issuedAt). It is
// bound to all five — a code texted to alice does not work for bob, for
// another gate, for the next run of the same incident id, or after
// SMSCodeTTL — and without the key nobody can compute one. The gate's
// issuedAt is workflow state, so a retried text sends the same code.
func SMSFactorCode(key []byte, operator, incident, run, step string, issuedAt time.Time) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("runbook/sms-factor/v1"))
	for _, s := range []string{operator, incident, run, step, strconv.FormatInt(issuedAt.UnixNano(), 10)} {
		m.Write([]byte{0})
		m.Write([]byte(s))
	}
	v := binary.BigEndian.Uint32(m.Sum(nil)[:4]) >> 2
	var b [SMSCodeLength]byte
	for i := SMSCodeLength - 1; i >= 0; i-- {
		b[i] = smsAlphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// OperatorReplyCode is the code a gate without an SMS second factor texts
// one approver (integrations/sms texts it; an "APPROVE <code>" reply from
// that operator's phone is relayed by the engine with it): bound to
// operator, incident, run and gate, so the engine's key alone cannot answer
// a gate on anyone's behalf — the relay must carry the code that person was
// sent.
func OperatorReplyCode(key []byte, operator, incident, run, gate string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("runbook/sms-operator-code/v1"))
	for _, s := range []string{operator, incident, run, gate} {
		m.Write([]byte{0})
		m.Write([]byte(s))
	}
	v := binary.BigEndian.Uint32(m.Sum(nil)[:4]) >> 2
	var b [SMSCodeLength]byte
	for i := SMSCodeLength - 1; i >= 0; i-- {
		b[i] = smsAlphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}
