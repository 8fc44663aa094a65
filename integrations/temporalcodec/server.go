package temporalcodec

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"
)

// ServerOptions configure the codec server.
type ServerOptions struct {
	// Authorize decides whether a request may use the codec. It is required:
	// a codec server without it refuses every request, because /decode
	// turns ciphertext from history back into plaintext for whoever asks.
	// Use BearerToken, or check the Temporal UI's forwarded access token
	// against your identity provider.
	Authorize func(*http.Request) bool
	// AllowOrigin is the Temporal Web UI's origin (e.g.
	// "https://temporal.example.com"). The browser calls the codec server
	// directly from the UI page, so it is a cross-origin request: the
	// server must answer the CORS preflight for exactly this origin, with
	// credentials allowed and the headers the UI sends (Content-Type,
	// X-Namespace, Authorization). Empty means no CORS (CLI use only).
	AllowOrigin string
	// AllowEncode also serves /encode (tctl/CLI use); the UI needs only
	// /decode.
	AllowEncode bool
}

// Handler is a remote codec server (the SDK's codec HTTP handler, POST
// …/decode and …/encode with protojson Payloads) for the Temporal Web UI and
// CLI, behind authorisation and CORS. Serve it over TLS.
func Handler(kr *Keyring, opts ServerOptions) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(NewCodec(kr))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opts.AllowOrigin != "" && r.Header.Get("Origin") == opts.AllowOrigin {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", opts.AllowOrigin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Headers", "Content-Type,X-Namespace,Authorization")
			h.Set("Access-Control-Allow-Methods", "POST,OPTIONS")
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if opts.Authorize == nil || !opts.Authorize(r) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/encode") && !opts.AllowEncode {
			http.NotFound(w, r)
			return
		}
		inner.ServeHTTP(w, r)
	})
}

// BearerToken authorises requests carrying "Authorization: Bearer <token>"
// (compared in constant time). An empty token authorises nothing.
func BearerToken(token string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return ok && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
	}
}
