package audit

import (
	"fmt"
	"sort"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/workflows"
)

// Head is a chain head as the incident's Temporal history recorded it: the
// result of an audit.record local activity (workflows.AuditHead).
type Head = workflows.AuditHead

// VerifyOptions say what VerifyTrail checks a trail against.
type VerifyOptions struct {
	// Keys is the audit keyring (every key id that may appear, old ones
	// included while trails written under them are still verified).
	Keys breach.Keyring
	// AllowLegacy accepts a leading run of records written before audit
	// keys (no key id, no MAC) when their chain links; the result says how
	// many there were. Off, such records fail verification.
	AllowLegacy bool
	// Heads are the chain heads recorded in the incidents' Temporal
	// histories (any order; several runs may share the subject).
	Heads []Head
}

// VerifyResult describes a trail that verified.
type VerifyResult struct {
	Records int
	// Legacy is how many leading records carry no MAC (written before
	// audit keys); only non-zero with AllowLegacy.
	Legacy int
	// KeyIDs are the audit key ids the records were signed with.
	KeyIDs []string
	// Heads is how many Temporal chain heads were checked.
	Heads int
}

// VerifyTrail checks one incident's records: the chain structure (Verify),
// a valid MAC under o.Keys on every record (records without one are
// accepted only as a leading legacy run with o.AllowLegacy), and the chain
// heads from Temporal history (a head's record must be present with the
// hash recorded, so records cut off the end are found; no record of the
// same run may follow its close head). It returns a *VerifyError naming
// the first bad record.
func VerifyTrail(recs []Record, o VerifyOptions) (VerifyResult, error) {
	if err := Verify(recs); err != nil {
		// Structure first: an altered record (hash mismatch) is named as
		// altered, not as a MAC failure.
		return VerifyResult{}, err
	}
	if len(o.Keys) == 0 {
		return VerifyResult{}, fmt.Errorf("audit verify: no audit keys: the MACs cannot be checked without the engine's audit keyring")
	}
	id := recs[0].IncidentID
	res := VerifyResult{Records: len(recs)}
	keyIDs := map[string]bool{}
	for i, r := range recs {
		if r.MAC == "" && r.KeyID == "" && res.Legacy == i {
			res.Legacy++ // still in the leading run written before audit keys
			continue
		}
		fail := func(format string, args ...any) error {
			return &VerifyError{IncidentID: id, Seq: r.Seq, Index: i, Problem: Unauthenticated, Reason: fmt.Sprintf(format, args...)}
		}
		if r.MAC == "" && r.KeyID == "" {
			return res, fail("the record has no mac but follows engine-signed records: appended without the audit key (%s by %q)", r.Kind, r.Actor)
		}
		if ok, why := authentic(o.Keys, r); !ok {
			return res, fail("%s (%s by %q)", why, r.Kind, r.Actor)
		}
		keyIDs[r.KeyID] = true
	}
	if res.Legacy > 0 && !o.AllowLegacy {
		return res, &VerifyError{IncidentID: id, Seq: 1, Index: 0, Problem: Legacy,
			Reason: fmt.Sprintf("records %s carry no mac: their chain links, but anyone able to publish on audit.* could have written them (accept them with --allow-unauthenticated)", seqRange(1, uint64(res.Legacy)))}
	}
	for k := range keyIDs {
		res.KeyIDs = append(res.KeyIDs, k)
	}
	sort.Strings(res.KeyIDs)
	if err := checkHeads(recs, o.Heads); err != nil {
		return res, err
	}
	res.Heads = len(o.Heads)
	return res, nil
}

func seqRange(a, b uint64) string {
	if a == b {
		return fmt.Sprintf("%d", a)
	}
	return fmt.Sprintf("%d-%d", a, b)
}

// checkHeads compares a structurally verified chain (so record #n is
// recs[n-1]) with the heads Temporal recorded.
func checkHeads(recs []Record, heads []Head) error {
	hs := append([]Head(nil), heads...)
	sort.SliceStable(hs, func(i, j int) bool { return hs[i].Seq < hs[j].Seq })
	id := recs[0].IncidentID
	last := recs[len(recs)-1].Seq
	for _, h := range hs {
		if h.Seq == 0 {
			continue
		}
		if h.Seq > last {
			return &VerifyError{IncidentID: id, Seq: last + 1, Index: len(recs), Problem: Removed,
				Reason: fmt.Sprintf("records #%s are missing: the Temporal history of run %s recorded the chain head at #%d (%s, hash %s), the stream ends at #%d",
					seqRange(last+1, h.Seq), h.Run, h.Seq, h.Kind, short(h.Hash), last)}
		}
		r := recs[h.Seq-1]
		if r.Hash != h.Hash || (h.KeyID != "" && r.KeyID != h.KeyID) {
			return &VerifyError{IncidentID: id, Seq: h.Seq, Index: int(h.Seq - 1), Problem: Altered,
				Reason: fmt.Sprintf("the Temporal history of run %s recorded #%d as %s (hash %s, key id %q), the stream holds %s (hash %s, key id %q): replaced",
					h.Run, h.Seq, h.Kind, short(h.Hash), h.KeyID, r.Kind, short(r.Hash), r.KeyID)}
		}
		if h.Kind != string(IncidentClosed) {
			continue
		}
		for _, after := range recs[h.Seq:] {
			if after.Run == h.Run {
				return &VerifyError{IncidentID: id, Seq: after.Seq, Index: int(after.Seq - 1), Problem: AfterClose,
					Reason: fmt.Sprintf("%s by %q follows the incident's close at #%d (close head in the Temporal history of run %s)",
						after.Kind, after.Actor, h.Seq, h.Run)}
			}
		}
	}
	return nil
}
