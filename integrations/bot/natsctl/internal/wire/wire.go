// Package wire is the message format shared by natsctl (engine side) and
// botclient (bot side).
//
// Every command and every reply is a NaCl box (Curve25519, XSalsa20,
// Poly1305) from the sender's private key to the receiver's public key:
// NATS subjects can be observed and published to by anything with
// permissions on them, so the box both hides delivered credentials and
// proves who sent each command and reply. A reply names the nonce of its
// command, so an old "frozen" reply cannot be replayed to a new freeze.
package wire

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// Envelope is what travels on NATS.
type Envelope struct {
	V     int    `json:"v"`
	Bot   string `json:"bot"`
	Nonce string `json:"nonce,omitempty"` // base64, 24 bytes
	Box   string `json:"box,omitempty"`   // base64 sealed Command or Reply
	// Error is set (unsealed) only when the bot could not open the
	// command: it has nothing authenticated to answer with.
	Error string `json:"error,omitempty"`
}

// Command is the sealed content of a request.
type Command struct {
	Action      string       `json:"action"`
	Bot         string       `json:"bot"`
	Incident    string       `json:"incident,omitempty"`
	Timestamp   int64        `json:"timestamp"`
	ForceExit   bool         `json:"force_exit,omitempty"`
	Credentials *Credentials `json:"credentials,omitempty"`
}

// Credentials inside a sealed deliver command.
type Credentials struct {
	Exchange   string `json:"exchange,omitempty"`
	APIKey     string `json:"api_key"`
	Secret     string `json:"secret"`
	Passphrase string `json:"passphrase,omitempty"`
}

// Reply is the sealed content of an answer.
type Reply struct {
	InReplyTo   string `json:"in_reply_to"` // the command's envelope nonce
	State       string `json:"state,omitempty"`
	OpenTrades  int    `json:"open_trades"`
	Detail      string `json:"detail,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Window is how far a command's timestamp may be from the bot's clock.
const Window = 5 * time.Minute

// Seal boxes v from priv to peer.
func Seal(bot string, v any, peer, priv *[32]byte) (Envelope, error) {
	msg, err := json.Marshal(v)
	if err != nil {
		return Envelope{}, err
	}
	var nonce [24]byte
	if _, err := io.ReadFull(rand.Reader, nonce[:]); err != nil {
		return Envelope{}, err
	}
	sealed := box.Seal(nil, msg, &nonce, peer, priv)
	return Envelope{V: 1, Bot: bot, Nonce: base64.StdEncoding.EncodeToString(nonce[:]),
		Box: base64.StdEncoding.EncodeToString(sealed)}, nil
}

// Open unboxes an envelope from peer into v.
func Open(e Envelope, v any, peer, priv *[32]byte) error {
	if e.Error != "" {
		return fmt.Errorf("peer answered unsealed: %s", e.Error)
	}
	nb, err := base64.StdEncoding.DecodeString(e.Nonce)
	if err != nil || len(nb) != 24 {
		return errors.New("bad nonce")
	}
	sealed, err := base64.StdEncoding.DecodeString(e.Box)
	if err != nil {
		return errors.New("bad box")
	}
	var nonce [24]byte
	copy(nonce[:], nb)
	msg, ok := box.Open(nil, sealed, &nonce, peer, priv)
	if !ok {
		return errors.New("box does not open with the configured keys")
	}
	return json.Unmarshal(msg, v)
}
