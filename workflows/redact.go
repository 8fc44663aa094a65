package workflows

import "strings"

// Redacted replaces a value whose key looks like a secret.
const Redacted = "[redacted]"

// secretKeyParts are substrings of keys whose values must not reach the
// incident state, the query or the workflow result. Actions must never
// return secrets in the first place (they return a reference and a
// fingerprint); this is the second line of defence against a careless one.
var secretKeyParts = []string{"secret", "password", "passphrase", "token", "private_key", "privatekey", "api_secret"}

// safeSuffixes mark keys that name a secret without holding it: actions hand
// later steps a reference ("secret_ref") and a fingerprint, and those must
// stay usable in templates.
var safeSuffixes = []string{"_ref", "_reference", "_fingerprint", "_id", "_name"}

// secretLooking reports whether key names a secret (case-insensitive,
// "-" treated as "_").
func secretLooking(key string) bool {
	k := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	for _, s := range safeSuffixes {
		if strings.HasSuffix(k, s) {
			return false
		}
	}
	for _, p := range secretKeyParts {
		if strings.Contains(k, p) {
			return true
		}
	}
	return false
}

// redactOutputs returns a copy of m with secret-looking values replaced,
// recursing into nested maps and lists. The input is not modified.
func redactOutputs(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if secretLooking(k) {
			out[k] = Redacted
			continue
		}
		out[k] = redactValue(v)
	}
	return out
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return redactOutputs(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = redactValue(e)
		}
		return out
	default:
		return v
	}
}
