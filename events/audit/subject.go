package audit

import (
	"fmt"
	"strconv"
	"strings"
)

// Stream and subject names of the audit trail.
const (
	StreamName    = "AUDIT"
	SubjectPrefix = "audit."
)

// Incident ids contain characters a NATS subject token must not (or should
// not) hold: "contain-key-breach:bot-1", bot names with dots. Token maps an
// id to one subject token reversibly, without a lookup table that could be
// lost or disagree with the stream: ASCII letters, digits and '-' stay as
// they are; every other byte, '_' included, becomes '_' and two upper-case
// hex digits. "contain-key-breach:bot-1" → "contain-key-breach_3Abot-1".
// The result stays readable in `nats stream view` and ParseToken inverts it.
func Token(incidentID string) string {
	var b strings.Builder
	for i := 0; i < len(incidentID); i++ {
		c := incidentID[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "_%02X", c)
	}
	return b.String()
}

// ParseToken inverts Token.
func ParseToken(tok string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c != '_' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(tok) {
			return "", fmt.Errorf("audit subject token %q: truncated escape", tok)
		}
		v, err := strconv.ParseUint(tok[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("audit subject token %q: bad escape %q", tok, tok[i:i+3])
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// Subject is the subject holding one incident's records.
func Subject(incidentID string) string { return SubjectPrefix + Token(incidentID) }

// IncidentOfSubject returns the incident id of an audit subject.
func IncidentOfSubject(subject string) (string, error) {
	tok, ok := strings.CutPrefix(subject, SubjectPrefix)
	if !ok || tok == "" || strings.Contains(tok, ".") {
		return "", fmt.Errorf("%q is not an audit subject", subject)
	}
	return ParseToken(tok)
}
