package audit

import (
	"errors"
	"fmt"
)

// Problem classifies what happened to a chain.
type Problem string

const (
	// Altered: a record's content no longer matches its hash.
	Altered Problem = "altered"
	// Removed: the sequence skips, so records are missing.
	Removed Problem = "removed"
	// Inserted: a record does not follow the one before it (wrong
	// prev_hash, repeated or backwards seq, another incident's record).
	Inserted Problem = "inserted"
	// Unauthenticated: the record's MAC is missing, does not match, or is
	// under a key id the keyring does not hold: it was not written by the
	// engine (appended through NATS, or altered and re-hashed).
	Unauthenticated Problem = "not authenticated by the engine"
	// AfterClose: an authenticated-looking chain continues past the close
	// head the incident's Temporal history recorded for the same run.
	AfterClose Problem = "written after close"
	// Legacy: records written before audit keys (no key id, no MAC): their
	// chain links, but anyone who could publish on audit.* could have
	// written them. Refused unless VerifyOptions.AllowLegacy.
	Legacy Problem = "unauthenticated (written before audit keys)"
)

// VerifyError names the first bad record of a chain.
type VerifyError struct {
	IncidentID string
	// Seq is the sequence number of the record named (for Removed: the
	// first missing one).
	Seq uint64
	// Index is the record's position in the trail as read (0-based).
	Index   int
	Problem Problem
	Reason  string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("audit chain of %s broken at record #%d (position %d): %s: %s",
		e.IncidentID, e.Seq, e.Index+1, e.Problem, e.Reason)
}

// ErrNoRecords is returned by Verify for an empty trail: an incident with no
// records cannot be shown to be intact.
var ErrNoRecords = errors.New("audit: no records")

// Verify checks the structure of one incident's chain only, in the order the records were stored:
// every hash matches its record, seq runs 1, 2, 3… without a gap or repeat,
// every prev_hash is the hash of the record before, and all records belong
// to the same incident. It returns nil or a *VerifyError naming the first
// bad record.
//
// Structure proves nothing against someone who can publish on audit.*:
// the hashes are unkeyed, so a forged record appended with a correct
// prev_hash and hash passes. VerifyTrail is the check that authenticates
// (MACs under the engine's keys, chain heads from Temporal history); the
// readers (status, report) use Verify only to say whether the chain links.
func Verify(recs []Record) error {
	if len(recs) == 0 {
		return ErrNoRecords
	}
	id := recs[0].IncidentID
	var prev *Record
	pos := map[uint64]int{} // seq → position, to name both sides of a duplicate
	for i := range recs {
		r := &recs[i]
		fail := func(seq uint64, p Problem, format string, args ...any) error {
			return &VerifyError{IncidentID: id, Seq: seq, Index: i, Problem: p, Reason: fmt.Sprintf(format, args...)}
		}
		want := uint64(1)
		if prev != nil {
			want = prev.Seq + 1
		}
		if r.IncidentID != id {
			return fail(r.Seq, Inserted, "record belongs to incident %q", r.IncidentID)
		}
		if h := r.ComputeHash(); h != r.Hash {
			return fail(r.Seq, Altered, "hash mismatch: stored %s, content hashes to %s", short(r.Hash), short(h))
		}
		switch {
		case r.Seq > want:
			if want == r.Seq-1 {
				return fail(want, Removed, "seq gap: record #%d is missing (next present is #%d)", want, r.Seq)
			}
			return fail(want, Removed, "seq gap: records #%d to #%d are missing", want, r.Seq-1)
		case r.Seq < want:
			if p, ok := pos[r.Seq]; ok {
				return fail(r.Seq, Inserted, "duplicate seq: #%d appears at positions %d and %d, one of them was inserted", r.Seq, p+1, i+1)
			}
			return fail(r.Seq, Inserted, "seq #%d out of order after #%d", r.Seq, want-1)
		}
		wantPrev := ""
		if prev != nil {
			wantPrev = prev.Hash
		}
		if r.PrevHash != wantPrev {
			return fail(r.Seq, Inserted, "prev_hash %s does not match record #%d's hash %s (this record does not follow it: inserted, or the one before was replaced)",
				short(r.PrevHash), want-1, short(wantPrev))
		}
		pos[r.Seq] = i
		prev = r
	}
	return nil
}

func short(h string) string {
	if h == "" {
		return `""`
	}
	if len(h) > 19 {
		return h[:19] + "…"
	}
	return h
}
