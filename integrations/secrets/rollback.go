package secrets

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrConflict is returned when a check-and-set write lost a race with
// another writer (Vault cas, JetStream KV revision). The caller re-reads and
// decides; Rollback never retries on its own, or two operators rolling back
// at once would step back twice.
var ErrConflict = errors.New("secret changed concurrently")

// MetaRestores is the meta key an append-only backend (Vault KV v2, JetStream
// KV) sets on a version written by Rollback: the version whose value it
// restores. The file store moves its current pointer instead and never sets
// it.
const MetaRestores = "restores_version"

// RollbackTarget picks the version an append-only backend restores, given
// every version oldest first: the one before the current position, where a
// version written by Rollback stands at the position it restored. So two
// rollbacks in a row step back twice, as they do in the file store.
func RollbackTarget(vs []Version) (Version, error) {
	if len(vs) == 0 {
		return Version{}, ErrNotFound
	}
	cur := vs[len(vs)-1]
	for _, v := range vs {
		if v.Current {
			cur = v
		}
	}
	pos := cur.Version
	if r, err := strconv.Atoi(cur.Meta[MetaRestores]); err == nil && r > 0 {
		pos = r
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Version < pos {
			return vs[i], nil
		}
	}
	return Version{}, fmt.Errorf("secret %s: no earlier version to roll back to", cur.Name)
}

// RestoredMeta is the meta of a version that restores target: target's meta
// plus MetaRestores.
func RestoredMeta(target Version) map[string]string {
	m := make(map[string]string, len(target.Meta)+1)
	for k, v := range target.Meta {
		m[k] = v
	}
	m[MetaRestores] = strconv.Itoa(target.Version)
	return m
}
