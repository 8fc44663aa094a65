// Package audittest holds fixtures for tests of the audit trail and of the
// tools built on it (CLI, review report): a realistic breach incident.
package audittest

import (
	"encoding/base64"
	"time"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/audit/redact"
)

// EventTime is when the sample breach event happened.
var EventTime = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// Trail returns the facts of a contain-key-breach incident for bot-1, with
// times, ready for Store.Append (or audit.Chain for an in-memory trail):
// parallel containment (IP whitelist first, 150 ms after the event), a
// cancel that fails once and succeeds on retry, three later evidence
// events, an approval by alice, a new key and the old one revoked, an SMS,
// a failed verification and a skipped unfreeze; the incident closes failed.
func Trail(id string) []audit.Record {
	at := func(ms int) time.Time { return EventTime.Add(time.Duration(ms) * time.Millisecond) }
	step := func(ms int, stepID string, kind audit.Kind, attempt int32, attrs map[string]string) audit.Record {
		r := audit.StepFact(id, stepID, kind, attempt, false, attrs)
		r.Time = at(ms)
		return r
	}
	with := func(r audit.Record, ms int) audit.Record { r.Time = at(ms); return r }
	// Key ids as the Store leaves them: masked.
	oldKey := redact.Mask("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A")
	newKey := redact.Mask("Xk2PqT7LmN4bV8cR1sW6yZ3aD9fG0hJ5kL2pQ7rT4vX8zB1nM6cE3gH9jK0sU5wY")
	return []audit.Record{
		with(audit.Opened(id, audit.OpenedFacts{TriggerEventID: "evt-7f3a", Runbook: "contain-key-breach",
			RunbookHash: "sha256:3b7e1c0d9a55", Trigger: "event", StartedBy: "alertmanager", EventTime: EventTime}), 40),
		step(60, "restrict_key", audit.StepStarted, 1, map[string]string{"action": "exchange.set_ip_whitelist"}),
		step(61, "freeze_bot", audit.StepStarted, 1, map[string]string{"action": "bot.freeze"}),
		step(62, "cancel_orders", audit.StepStarted, 1, map[string]string{"action": "exchange.cancel_orders"}),
		step(150, "restrict_key", audit.StepSucceeded, 1, map[string]string{"action": "exchange.set_ip_whitelist", "summary": "leaked key limited to 203.0.113.7"}),
		with(audit.KeyChangedFact(id, "restrict_key", audit.KeyChange{Exchange: "binance", KeyID: oldKey,
			Fingerprint: "sha256:aa41f0", Change: "ip whitelist", Detail: "ips=203.0.113.7"}), 151),
		step(180, "freeze_bot", audit.StepSucceeded, 1, map[string]string{"action": "bot.freeze", "summary": "froze bot-1"}),
		step(300, "cancel_orders", audit.StepFailed, 1, map[string]string{"action": "exchange.cancel_orders", "error": "binance: connection reset", "error_type": "NetworkError", "retryable": "true"}),
		step(1300, "cancel_orders", audit.StepRetried, 2, map[string]string{"action": "exchange.cancel_orders"}),
		step(1500, "cancel_orders", audit.StepSucceeded, 2, map[string]string{"action": "exchange.cancel_orders", "summary": "cancelled 3 open orders"}),
		with(audit.ApprovalAskedFact(id, "approve_rekey", "oncall", "Create a new key for bot-1 and revoke the leaked one?"), 1600),
		with(audit.EvidenceFact(id, "evt-7f3b", "breach.bot-1.unknown_ip_login"), 2000),
		with(audit.EvidenceFact(id, "evt-7f3c", "breach.bot-1.unknown_ip_login"), 5000),
		with(audit.EvidenceFact(id, "evt-7f3d", "breach.bot-1.withdrawal_attempt"), 9000),
		with(audit.ApprovalDecided(id, "approve_rekey", "alice@oncall", "confirmed: key was on the phished laptop", true), 95000),
		step(96000, "create_key", audit.StepStarted, 1, map[string]string{"action": "exchange.create_key"}),
		step(97000, "create_key", audit.StepSucceeded, 1, map[string]string{"action": "exchange.create_key", "summary": "trade-only key, withdrawals off"}),
		with(audit.KeyChangedFact(id, "create_key", audit.KeyChange{Exchange: "binance", KeyID: newKey,
			Fingerprint: "sha256:c9d2e7", Change: "created", Detail: "permissions=spot-trade withdrawals=false ips=203.0.113.7"}), 97001),
		step(97500, "revoke_old", audit.StepStarted, 1, map[string]string{"action": "exchange.revoke_key"}),
		step(98000, "revoke_old", audit.StepSucceeded, 1, map[string]string{"action": "exchange.revoke_key", "summary": "leaked key deleted"}),
		with(audit.KeyChangedFact(id, "revoke_old", audit.KeyChange{Exchange: "binance", KeyID: oldKey,
			Fingerprint: "sha256:aa41f0", Change: "revoked"}), 98001),
		step(98500, "notify_oncall", audit.StepStarted, 1, map[string]string{"action": "notify.sms"}),
		step(99000, "notify_oncall", audit.StepSucceeded, 1, map[string]string{"action": "notify.sms"}),
		with(audit.NotificationFact(id, "notify_oncall", audit.Notification{Channel: "sms", To: "+491…5678", MessageID: "SM5f1e"}), 99001),
		step(99500, "verify_key", audit.StepStarted, 1, map[string]string{"action": "exchange.verify_key"}),
		step(101000, "verify_key", audit.StepFailed, 1, map[string]string{"action": "exchange.verify_key", "error": "new key rejected from 203.0.113.7", "error_type": "PermissionError", "retryable": "false"}),
		with(audit.Skipped(id, "unfreeze_bot", "verify_key did not succeed"), 101100),
		with(audit.Closed(id, "failed", "step verify_key failed"), 101200),
	}
}

// Keys is an audit keyring for tests ("test-a", fixed secret): records
// appended by a Store built WithKeys(audittest.Keys()) verify with it.
func Keys() audit.Keys {
	k, err := audit.ParseKeys("test-a="+base64.StdEncoding.EncodeToString([]byte("audit key a for tests, 32+ bytes long")), "")
	if err != nil {
		panic(err)
	}
	return k
}
