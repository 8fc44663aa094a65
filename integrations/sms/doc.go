// Package sms texts the on-call roster through Twilio (github.com/twilio/twilio-go)
// and takes their answers back through Twilio's inbound-SMS webhook.
//
// Pieces, one file each:
//   - Client (client.go): sends and fetches messages with twilio-go. It can be
//     pointed at a local server (twiliosim) because a per-call transport
//     rewrites scheme and host; Error (errors.go) classifies failures.
//   - Credentials (credentials.go): account SID + auth token, read from the
//     environment or the secret store — never from runbook params.
//   - Roster (roster.go, quiet.go): people, escalation order, ack timeout,
//     quiet hours (which never apply to breaches).
//   - ApprovalCode (code.go): the short code in each SMS, an HMAC of incident
//     and step, so a retry or replay yields the same code and nobody can
//     guess one.
//   - Next (escalation.go): the pure escalation rule — who to text next, or
//     how long to wait for an answer.
//   - SentLog / AckStore (stores.go, store_*.go): what was sent to whom (the
//     idempotency record) and who answered.
//   - Webhook (webhook.go): verifies X-Twilio-Signature, accepts
//     "APPROVE|ACK|DENY <code>" from roster numbers only, and hands the
//     answer to a Responder the engine wires to Temporal updates;
//     GateResponder (responder.go) does the code → incident/gate lookup and
//     needs only a GateDecider.
//   - twiliosim (subpackage): a local Messages API for tests and runbook dev.
//
// An example roster is in testdata/roster.example.yaml.
//
// Escalation is driven by Temporal, not by a sleeping activity: see
// activities/notify for how notify.sms uses Next with retry delays.
package sms
