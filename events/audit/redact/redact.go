// Package redact removes secrets from values before they are stored or shown:
// the audit trail, logs and CLI output share it. It is the second line of
// defence (the first is that actions never return secrets): a value is dropped
// when its key looks secret-like, and known secret shapes are cut out of any
// string, including free text such as error messages.
package redact

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Mark replaces whatever was removed.
const Mark = "[REDACTED]"

// secretKey matches attribute names whose value is a secret whatever it
// looks like. Names are compared lower-cased with '-' and '.' folded to '_'.
// "api_key" counts: in most services it is the credential itself. The
// exchange key *id* (key_id) is not a secret and is masked instead.
var secretKey = regexp.MustCompile(`(^|_)(secret|secrets|password|passwd|pwd|passphrase|token|tokens|private|privkey|private_key|credential|credentials|creds|auth|authorization|signature|sig|cookie|session|otp|mnemonic|seed|api_key|apikey|access_key|secret_key)($|_)`)

// maskedKeys are identifiers that are fine to show in part: enough to tell
// two keys apart, not enough to use one.
var maskedKeys = map[string]bool{"key_id": true, "api_key_id": true, "old_key_id": true, "new_key_id": true}

// shape is a secret format recognised anywhere in a string and what replaces it.
type shape struct {
	re   *regexp.Regexp
	repl string
}

func cut(expr string) shape { return shape{regexp.MustCompile(expr), Mark} }

// shapes are the secret formats cut out of every string.
var shapes = []shape{
	// PEM private keys (RSA, EC, OpenSSH, PKCS#8), whole block.
	cut(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)`),
	// JSON Web Tokens: three base64url parts, the first two JSON objects.
	cut(`eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`),
	// Authorization header values.
	cut(`(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{12,}`),
	cut(`\bBasic\s+[A-Za-z0-9+/]*[0-9][A-Za-z0-9+/]*=*`),
	// Passwords inside URLs: scheme://user:password@host.
	{regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(@)`), "${1}" + Mark + "${2}"},
	// Cloud and SaaS credentials with fixed prefixes.
	cut(`\b(AKIA|ASIA)[A-Z0-9]{16}\b`),         // AWS access key id
	cut(`\bgh[pousr]_[A-Za-z0-9]{30,}\b`),      // GitHub tokens
	cut(`\bxox[abposr]-[A-Za-z0-9-]{10,}\b`),   // Slack tokens
	cut(`\bsk_(live|test)_[A-Za-z0-9]{16,}\b`), // Stripe keys
	cut(`\bSK[0-9a-fA-F]{32}\b`),               // Twilio API key sid
	// key=value pairs in query strings and log lines: keep the key.
	{regexp.MustCompile(`(?i)(secret|password|passwd|passphrase|token|api_?key|signature)=[^\s&"',;]+`), "${1}=" + Mark},
}

// opaque matches long runs that may be random credentials; isRandom decides.
// A "sha256:" prefix is matched with the token so digests can be let through.
var opaque = regexp.MustCompile(`(sha256:)?[A-Za-z0-9+/=_-]{24,}`)

// paddedBase64 is a base64 blob long enough to be key material.
var paddedBase64 = regexp.MustCompile(`^[A-Za-z0-9+/]{30,}={1,2}$`)

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// isRandom says whether a long token looks like a generated secret (an
// exchange API secret, a Twilio auth token, a base64 key) rather than an
// identifier made of words, paths and dates: one unbroken segment of at least
// 24 characters that mixes letters and digits, or a padded base64 blob. Hex
// digests carry a "sha256:" prefix in this project and survive.
func isRandom(tok string) bool {
	if strings.HasPrefix(tok, "sha256:") || uuidRe.MatchString(tok) {
		return false
	}
	if paddedBase64.MatchString(tok) {
		return true
	}
	longest := 0
	for _, seg := range strings.FieldsFunc(tok, func(r rune) bool { return r == '-' || r == '_' || r == '/' }) {
		longest = max(longest, len(seg))
	}
	if longest < 24 {
		return false
	}
	var letters, digits bool
	for _, r := range tok {
		switch {
		case r >= '0' && r <= '9':
			digits = true
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letters = true
		}
	}
	return letters && digits
}

// Redactor removes secrets. The zero value is not usable; call New. It is
// safe for concurrent use.
type Redactor struct {
	mu    sync.RWMutex
	known []string // exact secret values registered at run time, longest first
	// keep lists attribute names exempt from the generic "long random token"
	// rule (identifiers that are long and random by nature). Fixed shapes and
	// known values are still removed from them.
	keep map[string]bool
}

// DefaultKeep are identifiers the project stores on purpose.
var DefaultKeep = []string{"hash", "prev_hash", "runbook_hash", "fingerprint", "old_fingerprint", "new_fingerprint",
	"event_id", "trigger_event_id", "workflow_id", "run_id", "incident_id", "message_sid", "secret_ref", "ref"}

// New returns a redactor that also exempts keep (in addition to DefaultKeep)
// from the generic random-token rule.
func New(keep ...string) *Redactor {
	r := &Redactor{keep: map[string]bool{}}
	for _, k := range append(append([]string{}, DefaultKeep...), keep...) {
		r.keep[normKey(k)] = true
	}
	return r
}

// Default is a process-wide redactor; packages that learn a secret value at
// run time (a loaded management secret, a signing key) register it here so it
// is cut out wherever it would appear.
var Default = New()

// AddSecret registers an exact secret value to remove from every string.
// Values shorter than 6 characters are ignored: they would mangle ordinary text.
func (r *Redactor) AddSecret(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range values {
		if len(v) >= 6 {
			r.known = append(r.known, v)
		}
	}
	sort.Slice(r.known, func(i, j int) bool { return len(r.known[i]) > len(r.known[j]) })
}

// SecretKey reports whether an attribute name marks its value as secret.
func SecretKey(key string) bool {
	n := normKey(lastKey(key))
	if n == "" {
		return false
	}
	// "fingerprint" and "secret_ref" describe a secret without holding it.
	if strings.HasSuffix(n, "fingerprint") || strings.HasSuffix(n, "_ref") || n == "ref" {
		return false
	}
	return secretKey.MatchString(n)
}

func normKey(k string) string {
	// camelCase → snake so "apiSecret" and "api_secret" look alike.
	var b strings.Builder
	prevLower := false
	for _, c := range strings.TrimSpace(k) {
		if c >= 'A' && c <= 'Z' && prevLower {
			b.WriteByte('_')
		}
		prevLower = c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		b.WriteRune(c)
	}
	k = strings.ToLower(b.String())
	return strings.NewReplacer("-", "_", ".", "_", " ", "_").Replace(k)
}

// String cuts every known value and secret shape out of s.
func (r *Redactor) String(s string) string { return r.str(s, false) }

func (r *Redactor) str(s string, keepOpaque bool) string {
	if s == "" {
		return s
	}
	r.mu.RLock()
	for _, k := range r.known {
		s = strings.ReplaceAll(s, k, Mark)
	}
	r.mu.RUnlock()
	for _, sh := range shapes {
		s = sh.re.ReplaceAllString(s, sh.repl)
	}
	if !keepOpaque {
		s = opaque.ReplaceAllStringFunc(s, func(tok string) string {
			if isRandom(tok) {
				return Mark
			}
			return tok
		})
	}
	return s
}

// Value redacts one attribute: the whole value when the key is secret-like,
// a masked form for key ids, otherwise the string with secret shapes cut out.
// For a dotted path ("out.key_id") the last element decides.
func (r *Redactor) Value(key, value string) string {
	n := normKey(lastKey(key))
	switch {
	case SecretKey(key):
		return Mark
	case maskedKeys[n]:
		return Mask(r.str(value, true))
	}
	return r.str(value, r.keep[n])
}

// Map returns a redacted copy of m (nil stays nil).
func (r *Redactor) Map(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = r.Value(k, v)
	}
	return out
}

// Any flattens an arbitrary value (action params and outputs) into redacted
// strings keyed by prefix and dotted path, so nested maps keep their secret
// keys visible to the key rule: {"creds": {"secret": "x"}} → "creds.secret" = [REDACTED].
func (r *Redactor) Any(prefix string, v any, into map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if SecretKey(k) {
				into[join(prefix, k)] = Mark
				continue
			}
			r.Any(join(prefix, k), t[k], into)
		}
	case map[string]string:
		for k, s := range t {
			into[join(prefix, k)] = r.Value(k, s)
		}
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			parts = append(parts, fmt.Sprint(e))
		}
		into[prefix] = r.Value(lastKey(prefix), strings.Join(parts, ","))
	case []string:
		into[prefix] = r.Value(lastKey(prefix), strings.Join(t, ","))
	case nil:
	default:
		into[prefix] = r.Value(lastKey(prefix), fmt.Sprint(t))
	}
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func lastKey(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// Mask keeps the first and last four characters of an identifier
// ("AKxy…9F3k"); short values are hidden entirely.
func Mask(s string) string {
	if strings.Contains(s, Mark) {
		return s
	}
	if len(s) <= 10 {
		if s == "" {
			return s
		}
		return "…" + s[max(0, len(s)-2):]
	}
	return s[:4] + "…" + s[len(s)-4:]
}
