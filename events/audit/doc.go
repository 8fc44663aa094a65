// Package audit is the incident audit trail: every fact of an incident is
// one JSON record appended to the JetStream stream AUDIT, on the subject
// audit.<token> of its incident (see Token for the reversible mapping of
// incident ids such as "contain-key-breach:bot-1").
//
// Records form a hash chain per incident: seq counts from 1, prev_hash is
// the previous record's hash and hash is sha256 over the record itself, so
// Verify finds a record that was altered, removed or inserted and names it.
// Store.Append keeps the chain linear with several writers through the
// Nats-Expected-Last-Subject-Sequence publish expectation, and keeps facts
// unique through an idempotency key per fact: the key becomes the
// Nats-Msg-Id (JetStream dedup window), and Append also checks the keys
// already on the subject, so a retry after the window is a no-op too.
//
// Facts are written from activities only: Hook from inside every action
// activity (step started/retried/succeeded/failed/compensated, key changed,
// notification sent) and RecordActivity ("audit.record") for the
// workflow's incident-level facts. Incident state for `status` and `list`
// is Project / ListIncidents over the stream; Timeline and the report
// package render the review.
//
// Attribute values pass through the redact package before they are
// stored: secret-like keys lose their value, key ids are masked and known
// secret shapes are cut out of free text.
package audit
