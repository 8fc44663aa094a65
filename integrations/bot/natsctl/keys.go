package natsctl

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/nacl/box"
)

// GenerateKeyPair makes a NaCl box key pair, base64-encoded: run once for
// the engine and once per bot; give the bot its private key and the
// engine's public key, give the engine config the bot's public key.
func GenerateKeyPair() (public, private string, err error) {
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	return EncodeKey(pub), EncodeKey(priv), nil
}

// EncodeKey renders a key as standard base64.
func EncodeKey(k *[32]byte) string { return base64.StdEncoding.EncodeToString(k[:]) }

// DecodeKey reads a base64 32-byte key.
func DecodeKey(s string) (*[32]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("natsctl: key is not base64 of 32 bytes")
	}
	var k [32]byte
	copy(k[:], b)
	return &k, nil
}

// PublicKeyOf derives the public key from a private one.
func PublicKeyOf(priv *[32]byte) (*[32]byte, error) {
	k, err := ecdh.X25519().NewPrivateKey(priv[:])
	if err != nil {
		return nil, err
	}
	var pub [32]byte
	copy(pub[:], k.PublicKey().Bytes())
	return &pub, nil
}
