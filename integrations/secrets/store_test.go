package secrets

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestKeyFileRules(t *testing.T) {
	dir := t.TempDir()
	kf := filepath.Join(dir, "k")
	if err := os.WriteFile(kf, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(kf, false); err != nil {
		t.Fatalf("0600 key file: %v", err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
		os.Chmod(kf, mode)
		if _, err := LoadKey(kf, false); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %v accepted: %v", mode, err)
		}
	}
	if _, err := LoadKey(filepath.Join(dir, "missing"), false); err == nil {
		t.Error("missing key file without create")
	}
	os.WriteFile(filepath.Join(dir, "short"), []byte("abcd"), 0o600)
	if _, err := LoadKey(filepath.Join(dir, "short"), false); err == nil {
		t.Error("short key accepted")
	}
}

func TestFileStoreWritesAtomicallyAndKeepsVersions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenFile(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := s.Put(ctx, "bot/api", []byte("value-number-"+strconv.Itoa(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	// No temp file is left behind, and the secret file is private.
	entries, _ := os.ReadDir(filepath.Join(dir, "secrets"))
	if len(entries) != 1 || strings.HasPrefix(entries[0].Name(), ".tmp") {
		t.Fatalf("secrets dir = %v", entries)
	}
	if st, _ := os.Stat(filepath.Join(dir, "secrets", entries[0].Name())); st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v", st.Mode().Perm())
	}
	vs, _ := s.Versions(ctx, "bot/api")
	if len(vs) != 5 || !vs[4].Current {
		t.Fatalf("versions = %+v", vs)
	}
	for i := 1; i <= 5; i++ {
		if v, err := s.Get(ctx, Ref{Name: "bot/api", Version: i}); err != nil || string(v) != "value-number-"+strconv.Itoa(i) {
			t.Fatalf("v%d = %q, %v", i, v, err)
		}
	}
}

func TestRollbackTargetFollowsRestores(t *testing.T) {
	v := func(n int, restores string, cur bool) Version {
		m := map[string]string{}
		if restores != "" {
			m[MetaRestores] = restores
		}
		return Version{Ref: Ref{Name: "x", Version: n}, Meta: m, Current: cur}
	}
	cases := []struct {
		vs   []Version
		want int
	}{
		{[]Version{v(1, "", false), v(2, "", true)}, 1},
		// v3 restored v2: the next rollback goes to v1, not back to v2.
		{[]Version{v(1, "", false), v(2, "", false), v(3, "2", true)}, 1},
		// Versions aged out of the history: the nearest older one still kept.
		{[]Version{v(5, "", false), v(7, "", true)}, 5},
	}
	for i, c := range cases {
		got, err := RollbackTarget(c.vs)
		if err != nil || got.Version != c.want {
			t.Errorf("case %d: %d, %v; want %d", i, got.Version, err, c.want)
		}
	}
	if _, err := RollbackTarget([]Version{v(1, "", false), v(2, "1", true)}); err == nil {
		t.Error("rolled back past the first version")
	}
	if m := RestoredMeta(Version{Ref: Ref{Version: 4}, Meta: map[string]string{"key_id": "K"}}); m["key_id"] != "K" || m[MetaRestores] != "4" {
		t.Errorf("restored meta = %v", m)
	}
}
