package exchange

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretsNeverPrint(t *testing.T) {
	const secret = "s3cr3t-value-123"
	c := Credential{APIKey: "AK1", Secret: secret, Passphrase: "pp-" + secret}
	nk := NewKey{Key: Key{ID: "AK2", Label: "l"}, Secret: secret, Passphrase: "pp-" + secret}
	var out []string
	for _, v := range []any{c, &c, nk, &nk} {
		out = append(out, fmt.Sprintf("%v %+v %#v %s", v, v, v, v))
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
		out = append(out, buf.String())
	}
	all := strings.Join(out, "\n")
	if strings.Contains(all, secret) {
		t.Fatalf("secret printed:\n%s", all)
	}
	if !strings.Contains(all, "AK1") || !strings.Contains(all, "AK2") {
		t.Fatalf("key ids should stay visible:\n%s", all)
	}
	if nk.Credential().Secret != secret {
		t.Fatal("Credential() lost the secret")
	}
}

func TestKindsAndIPs(t *testing.T) {
	cases := map[string]Kind{
		"AuthenticationError": KindAuthentication, "PermissionDenied": KindPermission,
		"DDoSProtection": KindRateLimited, "RateLimitExceeded": KindRateLimited,
		"NetworkError": KindNetwork, "RequestTimeout": KindNetwork,
		"ExchangeNotAvailable": KindUnavailable, "OnMaintenance": KindUnavailable,
		"OrderNotFound": KindNotFound, "BadRequest": KindInvalid, "ExchangeError": KindExchange,
	}
	for typ, want := range cases {
		if got := KindFromCCXT(typ); got != want {
			t.Errorf("KindFromCCXT(%s) = %s, want %s", typ, got, want)
		}
	}
	if !SameIPs([]string{"b", "a", "a"}, []string{"a", "b"}) || SameIPs([]string{"a"}, nil) {
		t.Fatal("SameIPs")
	}
	if _, err := Open(Config{Exchange: "nope"}); KindOf(err) != KindInvalid {
		t.Fatalf("open unknown: %v", err)
	}
}
