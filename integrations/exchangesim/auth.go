package exchangesim

import (
	"crypto/hmac"
	"net/http"
)

// AuthFailure says why a request's key was refused; dialects map it to
// their exchange's own error code and HTTP status.
type AuthFailure string

const (
	AuthOK           AuthFailure = ""
	AuthMissingKey   AuthFailure = "missing_key"   // no API key header/param
	AuthUnknownKey   AuthFailure = "unknown_key"   // never existed
	AuthRevoked      AuthFailure = "revoked"       // deleted
	AuthIPRefused    AuthFailure = "ip_refused"    // TCP peer not on the key's whitelist
	AuthBadSignature AuthFailure = "bad_signature" // signature or passphrase wrong
	AuthExpired      AuthFailure = "expired"       // timestamp outside the receive window
)

// Authenticate is the one path every signed dialect request takes:
//
//  1. look the key up (records its id on the call even when refused, so the
//     log shows the attacker's attempts with a revoked key);
//  2. refuse unknown and revoked keys;
//  3. refuse a TCP peer outside the key's whitelist;
//  4. call verify(key) — the dialect checks its signature (and passphrase,
//     timestamp) with key.Secret — and refuse on its failure;
//  5. mark the key used (LastUsedAt).
//
// Order matters and mirrors the real exchanges closely enough: an unknown
// key is refused before any signature work.
func (s *Sim) Authenticate(r *http.Request, exchange, apiKey string, verify func(k Key) AuthFailure) (Key, AuthFailure) {
	call := CallOf(r)
	call.KeyID = apiKey
	if apiKey == "" {
		return Key{}, AuthMissingKey
	}
	k, ok := s.Key(exchange, apiKey)
	switch {
	case !ok:
		return Key{}, AuthUnknownKey
	case k.Revoked:
		return Key{}, AuthRevoked
	case !k.AllowsIP(ClientIP(r)):
		return Key{}, AuthIPRefused
	}
	if verify != nil {
		if f := verify(k); f != AuthOK {
			return Key{}, f
		}
	}
	s.touch(exchange, apiKey)
	return k, AuthOK
}

func (s *Sim) touch(exchange, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.st.keys[keyIndex(exchange, id)]; ok {
		k.LastUsedAt = s.now()
	}
}

// EqualMAC compares two signatures in constant time.
func EqualMAC(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

// ManagedSubAccount resolves a sub-account reference for a management key:
// the key must hold ManageKeys and the sub-account must belong to the key's
// own (main) account. ok=false with ErrNoAccount when either fails, so a
// management key cannot reach another customer's sub-accounts.
func (s *Sim) ManagedSubAccount(mgmt Key, ref string) (Account, error) {
	if !mgmt.Perms.ManageKeys {
		return Account{}, ErrNotPermitted
	}
	return s.SubAccount(mgmt.Account, ref)
}

// KeyOfSubAccount returns a live key that belongs to sub-account acc.
func (s *Sim) KeyOfSubAccount(exchange string, acc Account, keyID string) (Key, error) {
	k, ok := s.Key(exchange, keyID)
	if !ok || k.Revoked || k.Account != acc.ID {
		return Key{}, ErrNoKey
	}
	return k, nil
}
