package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
)

// alertDedupKey is the Nats-Msg-Id under which one alert's event is stored,
// so JetStream stores an Alertmanager retry (or a second receiver's copy
// within the duplicate window) once. Event ids are engine-made uuids; only
// this key repeats.
//
// What goes in, and why it cannot suppress a genuine alert:
//   - caller: the authenticated identity (the bearer-token holder, or the
//     client certificate's sha256). Only a caller the bridge authenticated
//     can produce a key in its own namespace; a forger with other
//     credentials lands in another namespace and never collides.
//   - receiver: Alertmanager's receiver name, so two receivers routed to
//     the same bridge are two deliveries.
//   - a hash of the alert's full label set, computed here: not the
//     caller-supplied fingerprint. The old id used that fingerprint, so a
//     post reusing a genuine alert's fingerprint and startsAt — with other
//     labels (another bot, another kind) — took the genuine alert's id and
//     JetStream dropped the genuine one. Now a colliding key needs the same
//     caller, receiver, labels and startsAt: the same alert, which is what
//     dedup should absorb.
//   - startsAt: a new firing of the same alert has a new startsAt and is a
//     new event.
//
// The key is an unkeyed hash of these (each length-prefixed so no field can
// shift into the next). It does not need a secret: it only has to differ
// between alerts that are not the same. Repeats after the duplicate window
// (Alertmanager's repeat_interval, default 4h) are new events, absorbed by
// the incident-level dedup (one incident per bot per runbook).
func alertDedupKey(caller, receiver string, a Alert) string {
	h := sha256.New()
	field := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	field(caller)
	field(receiver)
	keys := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	field(strconv.Itoa(len(keys)))
	for _, k := range keys {
		field(k)
		field(a.Labels[k])
	}
	field(a.StartsAt.UTC().Format("2006-01-02T15:04:05.999999999Z"))
	return "alertmanager-" + hex.EncodeToString(h.Sum(nil))
}
