package temporalcodec

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

func TestCodecServerDecodesForAuthorisedCallersOnly(t *testing.T) {
	kr, _ := NewKeyring("k1", map[string][]byte{"k1": newKey(t)})
	srv := httptest.NewServer(Handler(kr, ServerOptions{
		Authorize:   BearerToken("ui-token-123"),
		AllowOrigin: "https://temporal-ui.example",
	}))
	defer srv.Close()

	enc := encodeOne(t, NewCodec(kr), canary)
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{enc}})
	post := func(path, token string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", "default")
		req.Header.Set("Origin", "https://temporal-ui.example")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, out := post("/decode", "ui-token-123")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://temporal-ui.example" {
		t.Fatalf("decode: %d %s %v", resp.StatusCode, out, resp.Header)
	}
	var got commonpb.Payloads
	if err := protojson.Unmarshal([]byte(out), &got); err != nil || len(got.Payloads) != 1 ||
		!strings.Contains(string(got.Payloads[0].Data), canary) {
		t.Fatalf("decoded payloads = %s, %v", out, err)
	}
	for _, tok := range []string{"", "wrong"} {
		if resp, out := post("/decode", tok); resp.StatusCode != http.StatusUnauthorized || strings.Contains(out, canary) {
			t.Fatalf("token %q: %d %s", tok, resp.StatusCode, out)
		}
	}
	if resp, _ := post("/encode", "ui-token-123"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("encode without AllowEncode: %d", resp.StatusCode)
	}

	// CORS preflight from the UI's origin needs no token.
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	req.Header.Set("Origin", "https://temporal-ui.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	pre, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pre.Body.Close()
	if pre.StatusCode != http.StatusNoContent || !strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "X-Namespace") {
		t.Fatalf("preflight: %d %v", pre.StatusCode, pre.Header)
	}

	// No Authorize: fail closed.
	closed := httptest.NewServer(Handler(kr, ServerOptions{}))
	defer closed.Close()
	r2, err := http.Post(closed.URL+"/decode", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no authorizer: %d", r2.StatusCode)
	}
}
