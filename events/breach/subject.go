package breach

import (
	"regexp"
	"strings"
)

// SubjectPrefix is the first token of every breach event subject.
const SubjectPrefix = "breach"

var tokenRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidToken reports whether s can be one NATS subject token of a breach
// subject (bot or kind): no dots, spaces, wildcards or control characters.
func ValidToken(s string) bool { return tokenRe.MatchString(s) }

// Subject is the NATS subject an event with this bot and kind is published on.
func Subject(bot, kind string) string { return SubjectPrefix + "." + bot + "." + kind }

// SplitSubject returns bot and kind of breach.<bot>.<kind>.
func SplitSubject(subject string) (bot, kind string, ok bool) {
	parts := strings.Split(subject, ".")
	if len(parts) != 3 || parts[0] != SubjectPrefix || !ValidToken(parts[1]) || !ValidToken(parts[2]) {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// MatchSubject reports whether subject matches the NATS subject pattern:
// "*" matches exactly one token, ">" (last token only) one or more tokens.
func MatchSubject(pattern, subject string) bool {
	if pattern == "" || subject == "" {
		return false
	}
	pt := strings.Split(pattern, ".")
	st := strings.Split(subject, ".")
	for i, p := range pt {
		if p == ">" {
			return i == len(pt)-1 && len(st) > i
		}
		if i >= len(st) {
			return false
		}
		if p != "*" && p != st[i] {
			return false
		}
	}
	return len(pt) == len(st)
}
