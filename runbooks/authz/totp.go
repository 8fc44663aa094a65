package authz

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // RFC 6238's default HMAC, what every authenticator app computes
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// TOTP parameters: the defaults of RFC 6238 and of every authenticator app
// (30-second steps, 6 digits, HMAC-SHA1), accepting one step of clock skew.
const (
	TOTPStep   = 30 * time.Second
	TOTPDigits = 6
	TOTPSkew   = 1
)

// DecodeTOTPSecret reads a base32 secret as authenticator apps show it
// (case and spaces ignored, padding optional).
func DecodeTOTPSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
	s = strings.TrimRight(s, "=")
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("TOTP secret is not base32: %w", err)
	}
	if len(b) < 10 {
		return nil, fmt.Errorf("TOTP secret is %d bytes, want at least 10 (80 bits)", len(b))
	}
	return b, nil
}

// TOTPCode is the RFC 6238 code of secret for time step counter.
func TOTPCode(secret []byte, counter int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for i := 0; i < digits; i++ {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// TOTPCounter is the time step of t.
func TOTPCounter(t time.Time) int64 { return t.Unix() / int64(TOTPStep/time.Second) }

// CheckTOTP reports the time step whose code equals code, within TOTPSkew
// steps of now. The caller must refuse a step it has already accepted for
// the same operator (RFC 6238 §5.2: a code is good once).
func CheckTOTP(secret []byte, code string, now time.Time) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != TOTPDigits {
		return 0, false
	}
	c := TOTPCounter(now)
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		if hmac.Equal([]byte(TOTPCode(secret, c+d, TOTPDigits)), []byte(code)) {
			return c + d, true
		}
	}
	return 0, false
}
