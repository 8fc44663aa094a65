package httpreq_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/activities/httpreq"
	"github.com/keyresponse/runbook/runbooks"
)

func TestHTTPRequest(t *testing.T) {
	var gotKey, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = r.Header.Get("Idempotency-Key")
		b := make([]byte, 64)
		n, _ := r.Body.Read(b)
		gotBody = string(b[:n])
		switch r.URL.Path {
		case "/down":
			http.Error(w, "down", http.StatusBadGateway)
		case "/missing":
			http.NotFound(w, r)
		case "/busy":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			_, _ = w.Write([]byte("pong"))
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	a := httpreq.New(httpreq.Config{AllowedHosts: []string{host}})
	call := func(url string) (runbooks.ActionResult, error) {
		return a.Run(context.Background(), runbooks.ActionRequest{IncidentID: "inc-1", StepID: "s1", Action: httpreq.Spec.Name,
			Params: map[string]any{"method": "POST", "url": url, "body": "hello"}})
	}

	res, err := call(srv.URL + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["status"] != 200 || res.Outputs["body"] != "pong" {
		t.Errorf("outputs %v", res.Outputs)
	}
	if gotKey != "inc-1/s1" || gotBody != "hello" {
		t.Errorf("server saw Idempotency-Key %q body %q", gotKey, gotBody)
	}

	cases := map[string]string{
		srv.URL + "/down":                activities.ErrUnavailable,
		srv.URL + "/missing":             "HTTPStatus",
		srv.URL + "/busy":                activities.ErrRateLimited,
		"http://127.0.0.99:1/not-listed": activities.ErrForbiddenHost,
	}
	for url, want := range cases {
		_, err := call(url)
		if got := activities.ErrorType(err); got != want {
			t.Errorf("%s: error type %q (%v), want %q", url, got, err, want)
		}
	}
}

func TestHTTPRequestRejectsBadParams(t *testing.T) {
	a := httpreq.New(httpreq.Config{AllowedHosts: []string{"example.org"}})
	for _, p := range []map[string]any{
		{"url": "ftp://example.org/x"},
		{"url": "https://example.org/x", "method": "PATCH"},
		{},
	} {
		_, err := a.Run(context.Background(), runbooks.ActionRequest{Action: httpreq.Spec.Name, Params: p})
		if activities.ErrorType(err) != activities.ErrInvalidParams {
			t.Errorf("params %v: %v, want InvalidParams", p, err)
		}
	}
}
