package runbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// DefinitionDigest is the content hash of what an incident runs: the parsed
// definition and the action metadata its starter resolved (side-effect
// classes, compensations, Pages), as they travel in the workflow input.
// The worker registers runbooks by it and the workflow computes it from its
// own input, so an edited definition — or an action re-labelled reversible
// to dodge a hold — under a registered name and file hash is not registered.
// Both are taken through one JSON round trip first, so the digest is the
// same on the starter's side and in the workflow (Temporal's payloads are
// JSON: an int becomes a float64, a nil and an empty map differ the same way
// on both sides).
func DefinitionDigest(rb Runbook, actions map[string]ActionMeta) string {
	b, err := json.Marshal(struct {
		Runbook Runbook               `json:"runbook"`
		Actions map[string]ActionMeta `json:"actions"`
	}{rb, actions})
	if err != nil {
		return "unhashable:" + err.Error()
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "unhashable:" + err.Error()
	}
	if b, err = json.Marshal(v); err != nil {
		return "unhashable:" + err.Error()
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
