package ingest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
)

// Caller identities the bridge records in evidence.caller and keys dedup by.
const callerBearer = "bearer-token"

// authenticate returns the caller's identity, or why the request is
// refused. Every configured method is required; with none configured the
// bridge refuses everyone (it signs with the engine's key: an open bridge
// let one curl freeze a bot and revoke its key).
func (b *AlertmanagerBridge) authenticate(r *http.Request) (string, error) {
	if b.BearerToken == "" && !b.RequireClientCert {
		return "", errors.New("the bridge has no authentication configured and accepts nobody")
	}
	caller := ""
	if b.BearerToken != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			return "", errors.New("want Authorization: Bearer <token> (Alertmanager http_config.authorization)")
		}
		// Constant time: a byte-by-byte compare leaks the token's prefix
		// through response timing.
		if subtle.ConstantTimeCompare([]byte(got), []byte(b.BearerToken)) != 1 {
			return "", errors.New("wrong bearer token")
		}
		caller = callerBearer
	}
	if b.RequireClientCert {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
			return "", errors.New("a client certificate verified against the bridge's client CA is required")
		}
		leaf := r.TLS.VerifiedChains[0][0]
		sum := sha256.Sum256(leaf.Raw)
		// The certificate's hash, not its subject: two certificates may
		// share a subject, never a hash.
		caller = "client-cert:sha256:" + hex.EncodeToString(sum[:]) + " (" + leaf.Subject.CommonName + ")"
	}
	return caller, nil
}
