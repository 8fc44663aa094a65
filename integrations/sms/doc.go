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
//   - ApprovalCode / OperatorCode (code.go): the short code in each SMS, an
//     HMAC of incident, run and step (and operator, for a gate's approvers),
//     so a retry yields the same code, the next run of an incident id a new
//     one, and nobody can guess one. Codes expire (Pending.ExpiresAt).
//   - Next (escalation.go): the pure escalation rule — who to text next, or
//     how long to wait for an answer.
//   - SentLog / AckStore (stores.go, store_*.go): what was sent to whom (the
//     idempotency record) and who answered.
//   - Webhook (webhook.go): verifies X-Twilio-Signature, accepts
//     "APPROVE|ACK|DENY <code>" from on-call or operator roster numbers
//     only (a code texted to one operator from that operator's phone only),
//     refuses unknown and expired codes, and hands the answer to a
//     Responder the engine wires to Temporal updates; GateResponder
//     (responder.go) does the code → incident/run/gate lookup and turns
//     APPROVE/DENY into an engine-signed statement on behalf of the
//     operator whose phone answered (authz judges it like any decision).
//   - twiliosim (subpackage): a local Messages API for tests and runbook dev.
//
// An example roster is in testdata/roster.example.yaml.
//
// Escalation is driven by Temporal, not by a sleeping activity: see
// activities/notify for how notify.sms uses Next with retry delays.
package sms
