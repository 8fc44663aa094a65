package freqtradesim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Tokens are HS256 JWTs shaped like freqtrade's: {"identity":{"u":user},
// "exp", "iat", "type":"access"|"refresh"}.

var b64 = base64.RawURLEncoding

type claims struct {
	Identity struct {
		U string `json:"u"`
	} `json:"identity"`
	Exp  int64  `json:"exp"`
	Iat  int64  `json:"iat"`
	Type string `json:"type"`
}

func signToken(key []byte, user, typ string, now time.Time, ttl time.Duration) string {
	var c claims
	c.Identity.U = user
	c.Iat = now.Unix()
	c.Exp = now.Add(ttl).Unix()
	c.Type = typ
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	p, _ := json.Marshal(c)
	msg := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	return msg + "." + b64.EncodeToString(mac(key, msg))
}

func mac(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// verifyToken returns the user of a valid, unexpired token of type typ.
func verifyToken(key []byte, tok, typ string, now time.Time) (string, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", errors.New("malformed token")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac(key, parts[0]+"."+parts[1])) {
		return "", errors.New("bad signature")
	}
	var hdr map[string]string
	hb, err := b64.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &hdr) != nil || hdr["alg"] != "HS256" {
		return "", errors.New("bad header")
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return "", errors.New("bad payload")
	}
	var c claims
	if err := json.Unmarshal(pb, &c); err != nil {
		return "", errors.New("bad payload")
	}
	if now.Unix() >= c.Exp {
		return "", errors.New("token expired")
	}
	if c.Type != typ || c.Identity.U == "" {
		return "", errors.New("wrong token type")
	}
	return c.Identity.U, nil
}
