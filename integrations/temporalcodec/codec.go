// Package temporalcodec encrypts every Temporal payload (workflow and
// activity inputs and results, signals, queries, memos, failure details)
// with AES-256-GCM before it leaves the process, so the Temporal server, its
// database and anyone reading history without the key see only ciphertext.
//
// This is defence in depth: actions already never put a secret in a
// payload. Install DataConverter(kr) and FailureConverter(kr) on every
// Temporal client and worker of the engine (client.Options.DataConverter and
// .FailureConverter); the CLI's status and report verbs need them too to
// read results.
//
// What the codec cannot cover, because the server must read it: workflow and
// activity ids, task queues, identities, search attributes, timer and
// signal names. Never derive those from a secret. ScanHistoryForSecret
// checks all of them.
//
// Payload format: metadata encoding="binary/encrypted" and
// encryption-key-id=<id>; data = 12-byte nonce || GCM(seal of the whole
// original Payload protobuf, metadata included). The key id is bound as
// additional data, so a payload cannot be re-labelled with another id.
package temporalcodec

import (
	"crypto/rand"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata keys and values of an encrypted payload.
const (
	MetadataKeyID     = "encryption-key-id"
	EncodingEncrypted = "binary/encrypted"
)

// Codec is a converter.PayloadCodec over a Keyring.
type Codec struct {
	kr *Keyring
}

var _ converter.PayloadCodec = (*Codec)(nil)

// NewCodec returns the codec for kr.
func NewCodec(kr *Keyring) *Codec { return &Codec{kr: kr} }

// DataConverter is the SDK's default converter with payloads encrypted by
// kr: what every client and worker of the engine must use.
func DataConverter(kr *Keyring) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), NewCodec(kr))
}

// Encode implements converter.PayloadCodec with the current key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	id := c.kr.current
	aead := c.kr.keys[id]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("payload codec: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("payload codec: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:              []byte(id),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(id)),
		}
	}
	return out, nil
}

// ErrPlaintextPayload is a payload that was not encrypted by an engine
// client: refused, never trusted.
var ErrPlaintextPayload = errors.New("payload codec: plaintext payload refused")

// Decode implements converter.PayloadCodec. A payload this codec did not
// encode is refused (ErrPlaintextPayload): every client of the engine
// encrypts, so a plaintext one came from someone without the payload key —
// before this, a process with network access but no key approved a waiting
// gate because plaintext passed through. An encrypted payload under an
// unknown key id, or one that was altered, is an error too.
//
// What a refusal does in the SDK: an Update's arguments fail to decode and
// the Update is rejected before it reaches history; a signal is dropped as
// corrupt (the SDK logs it and counts temporal_corrupted_signals); an
// activity's input fails the attempt.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if enc := string(p.GetMetadata()[converter.MetadataEncoding]); enc != EncodingEncrypted {
			return nil, fmt.Errorf("%w (encoding %q): every payload of this engine is encrypted; this one was written by a client without the payload key", ErrPlaintextPayload, enc)
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.kr.keys[id]
		if !ok {
			return nil, fmt.Errorf("payload codec: unknown encryption key id %q (keyring has %v)", id, c.kr.IDs())
		}
		data := p.GetData()
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return nil, fmt.Errorf("payload codec: encrypted payload under key %q is too short", id)
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("payload codec: payload under key %q failed authentication (tampered or wrong key)", id)
		}
		var orig commonpb.Payload
		if err := proto.Unmarshal(plain, &orig); err != nil {
			return nil, fmt.Errorf("payload codec: %w", err)
		}
		out[i] = &orig
	}
	return out, nil
}
