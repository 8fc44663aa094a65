// Package breach is the breach event contract: CloudEvents 1.0 JSON on the
// NATS subject breach.<bot>.<kind>, its JSON Schema, a strict decoder with
// reason-coded errors, HMAC-SHA256 signing and verification (key rotation,
// timestamp window, replay protection) and NATS subject pattern matching.
//
// The package does no I/O: NATS streams, the trigger consumer and the
// JetStream-backed replay guard live in events/ingest. See README.md for the
// wire format, the canonicalisation used for signatures and examples.
package breach
