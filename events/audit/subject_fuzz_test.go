package audit

import (
	"strings"
	"testing"
)

func FuzzTokenRoundTrip(f *testing.F) {
	for _, s := range []string{"contain-key-breach:bot-1", "a.b", "_", "x_3A", "ü", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		tok := Token(id)
		if strings.ContainsAny(tok, ". *>\t\r\n") {
			t.Fatalf("%q → %q is not a subject token", id, tok)
		}
		back, err := ParseToken(tok)
		if err != nil || back != id {
			t.Fatalf("%q → %q → %q, %v", id, tok, back, err)
		}
	})
}
