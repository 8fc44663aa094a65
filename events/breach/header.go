package breach

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// HeaderSignature carries a detached signature over the exact message
// bytes, as GitHub (X-Hub-Signature-256), Stripe and Twilio sign webhooks:
//
//	Runbook-Signature: keyid=<id>,sha256=<base64 HMAC-SHA256(key, body)>
//
// During a key rotation a publisher may send several keyid=…,sha256=…
// pairs (and a keyid may carry several sha256= parts); any match passes.
// Unknown name=value parts are ignored, for later versions.
//
// Why beside the body signature (sign.go): that one covers the canonical
// JSON, so refusing a forged event meant parsing, validating and
// canonicalising it first (~14 µs), and a flood of forgeries was
// rejected at ~8,000 events/s. The header is checked with one HMAC over
// the raw bytes before anything parses them, so a forgery costs about a
// microsecond. The body signature stays accepted for existing publishers.
//
// The header covers every byte Decode later parses: nothing in the event
// escapes it. A publisher must not re-serialise the body after signing.
const HeaderSignature = "Runbook-Signature"

// SignHeader returns the Runbook-Signature value for body with key keyID.
func SignHeader(body []byte, kr Keyring, keyID string) (string, error) {
	key, ok := kr[keyID]
	if !ok {
		return "", fmt.Errorf("sign: no key %q in keyring", keyID)
	}
	return "keyid=" + keyID + ",sha256=" + macBytes(key, body), nil
}

func macBytes(key, msg []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// sigPart is one keyid's claimed signatures.
type sigPart struct {
	keyID string
	sigs  []string
}

// parseSignatureHeader splits a header value into (keyid, sha256...) runs.
func parseSignatureHeader(v string) ([]sigPart, error) {
	var parts []sigPart
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, val, ok := strings.Cut(f, "=")
		if !ok {
			return nil, refuse(ReasonBadSignature, "%s header: part %q is not name=value", HeaderSignature, truncate(f, 40))
		}
		switch name {
		case "keyid":
			if !keyIDRe.MatchString(val) {
				return nil, refuse(ReasonBadSignature, "%s header: keyid %q: want 1-64 of [A-Za-z0-9._-]", HeaderSignature, truncate(val, 70))
			}
			parts = append(parts, sigPart{keyID: val})
		case "sha256":
			if len(parts) == 0 {
				return nil, refuse(ReasonBadSignature, "%s header: sha256= before any keyid=", HeaderSignature)
			}
			// The value of "sha256=" itself ends in "=" (base64 padding):
			// Cut took only the first "=".
			if !signatureOK(val) {
				return nil, refuse(ReasonBadSignature, "%s header: sha256 value is not a base64 HMAC-SHA256 (44 characters)", HeaderSignature)
			}
			parts[len(parts)-1].sigs = append(parts[len(parts)-1].sigs, val)
		}
	}
	if len(parts) == 0 {
		return nil, refuse(ReasonBadSignature, "%s header: no keyid= part", HeaderSignature)
	}
	return parts, nil
}

// Precheck judges a message with a Runbook-Signature header from its raw
// bytes, before anything parses them: headerSigned on success; a mismatch,
// an unknown key or a malformed header is a refusal. Without the header it
// returns (false, nil) and Decode and Verify decide (body signature,
// unsigned allowance) as before.
//
// A refused body that may name a secret-looking field is parsed after all,
// and refused as secret_field when it does: that reason is what makes the
// consumer redact its dead letter and erase it from the stream, so a
// forged event must not skip it.
func (v *Verifier) Precheck(subject, header string, body []byte) (headerSigned bool, err error) {
	if header == "" {
		return false, nil
	}
	refusal := v.checkHeader(header, body)
	if refusal == nil {
		return true, nil
	}
	if mayNameSecret(body) {
		if x, err := parseStrict(body); err == nil {
			if obj, ok := x.(map[string]any); ok {
				if path := secretField(obj, ""); path != "" {
					return false, refuse(ReasonSecretField, "field %s looks like a secret; events carry key ids only", path)
				}
			}
		}
	}
	return false, refusal
}

func (v *Verifier) checkHeader(header string, body []byte) error {
	parts, err := parseSignatureHeader(header)
	if err != nil {
		return err
	}
	known := false
	for _, p := range parts {
		key, ok := v.Keys[p.keyID]
		if !ok {
			continue
		}
		known = true
		want := []byte(macBytes(key, body))
		for _, s := range p.sigs {
			if hmac.Equal(want, []byte(s)) {
				return nil
			}
		}
	}
	if !known {
		return refuse(ReasonUnknownKey, "%s keyid %q is not in the keyring", HeaderSignature, truncate(parts[0].keyID, 70))
	}
	return refuse(ReasonBadSignature, "%s: HMAC-SHA256 over the message bytes does not match", HeaderSignature)
}

// mayNameSecret reports whether body has an object key that looks like a
// secret, or one it cannot judge without parsing (an escape in a key). It
// scans bytes only; false means certainly none.
func mayNameSecret(body []byte) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		start, esc := i+1, false
		j := start
		for ; j < len(body) && body[j] != '"'; j++ {
			if body[j] == '\\' {
				esc = true
				j++
			}
		}
		if j >= len(body) {
			return esc
		}
		k := j + 1
		for k < len(body) && (body[k] == ' ' || body[k] == '\t' || body[k] == '\n' || body[k] == '\r') {
			k++
		}
		if k < len(body) && body[k] == ':' && (esc || looksSecret(string(body[start:j]))) {
			return true
		}
		i = j
	}
	return false
}
