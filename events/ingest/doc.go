// Package ingest moves breach events between NATS JetStream and Temporal:
// connection and stream setup, the publishing helper behind `runbook event
// send`, the Alertmanager webhook bridge, and the trigger consumer that
// decodes, verifies and matches each event against the loaded runbooks and
// starts (or signals) the incident, dead-lettering what can never succeed.
//
// Delivery contract: a message is acked only after the Starter accepted the
// start or signal, or after it was written to the dead-letter stream. A
// Starter failure leads to a delayed redelivery. Nothing is dropped
// silently: every outcome is counted in Stats and logged.
//
// The trigger consumer works in batches (consumer.go, collect.go,
// batch.go): verify.go decodes and verifies in parallel, group.go and
// fleet.go turn matches into one Starter call per incident (or one fleet
// start for a mass breach), start.go makes the calls, ack.go ends each
// message (ack, nak, dead letter).
package ingest
