// Package authz is who may act on an incident, and the proof that they did:
// the operator roster (name, Ed25519 public keys, phone, roles), the roles and
// what they permit, the statement an operator signs for every control action
// (exec, approve, deny, abort, drill changes, manual evidence), its
// verification, and the second factors (RFC 6238 TOTP, SMS codes bound to
// person + incident + run + step).
//
// It is pure — no I/O, no clock, nothing of ours imported — so the
// interpreter workflow can call it from its Update validators and the CLI,
// the worker and the tests share one definition of every rule. Signing needs
// a private key and lives in integrations/operatorkey.
//
// Signatures are OpenSSH SSHSIG blobs (PROTOCOL.sshsig) in the namespace
// Namespace, so any ssh-ed25519 key works — a file, ssh-agent, or
// `ssh-keygen -Y sign -n runbook-control` — exactly as git's SSH commit
// signing uses them.
package authz
