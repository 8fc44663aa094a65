// Package natsauth is who may do what on the engine's NATS: the roles
// (engine, admin, operator, publisher), the accounts they live in and the
// subjects each may publish and subscribe to. It renders that policy as a
// nats-server configuration (the accounts block, users identified by nkey
// public keys), which `runbook dev` runs its embedded server with and which
// deploy/nats documents for a cluster.
//
// Before this, dev's NATS had no authentication at all: any local process
// could publish on breach.>, read every stream, delete streams or append to
// AUDIT.
//
// The shape:
//
//   - account ENGINE holds JetStream (BREACH, BREACH_DLQ, AUDIT, the KV
//     buckets). Its users: the engine (everything except deleting or
//     purging streams), an admin (everything), and operators (read-only on
//     AUDIT through the JetStream API, nothing else).
//   - account PUBLISHERS holds monitoring publishers. It imports the
//     service breach.> from ENGINE, so a publisher's message lands in the
//     BREACH stream and its JetStream ack comes back, but the account has no
//     JetStream of its own and sees nothing of ENGINE's: no stream, no
//     consumer, no API. A publisher may publish only on breach.>.
//
// Replies: operators share ENGINE with the engine, and may subscribe to
// _INBOX.> (so stock NATS tools work for them). The engine therefore takes
// its replies on its own prefix (EngineInboxPrefix): otherwise an operator
// subscribed to _INBOX.> would receive the engine's replies, e.g. replay-KV
// reads or incident facts.
package natsauth
