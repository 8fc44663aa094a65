package runbooks

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// A large runbook of groups nested up to the depth limit gets one "cannot be
// nested" finding per nested group, each at that group's line, and the
// expression check's finding for each leaf's undeclared input at its line:
// the findings a user fixes, not a flood, a crash or a stall.
func TestValidateLargeNestedRunbook(t *testing.T) {
	src := nestedRunbook(120<<10, maxGroupDepth)
	lines := strings.Split(string(src), "\n")
	want := map[string]int{} // field -> line of the nested group's "- id:"
	groups := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "  - id: g") {
			groups++
		}
	}
	ps := Validate("nested.yaml", src, testCatalog())
	perGroup := maxGroupDepth - 1 + 1 // nested groups + the leaf's undeclared input
	if groups == 0 || len(ps) != groups*perGroup {
		t.Fatalf("%d groups of depth %d: got %d problems, want %d; first: %v",
			groups, maxGroupDepth, len(ps), groups*perGroup, ps[:min(3, len(ps))])
	}
	for _, p := range ps {
		got := strings.TrimSpace(lines[p.Line-1])
		switch p.Message {
		case "parallel groups cannot be nested":
			if !strings.HasPrefix(got, "- id: g") {
				t.Fatalf("%s points at line %d %q, not a group's id", p, p.Line, got)
			}
		case `undeclared input "x"`:
			if !strings.HasPrefix(got, "with:") || !strings.HasSuffix(p.Field, ".with.message") {
				t.Fatalf("%s points at line %d %q, not the leaf's with", p, p.Line, got)
			}
		default:
			t.Fatalf("unexpected problem %s", p)
		}
		want[p.Field] = p.Line
	}
	// The deepest nested group of the last top-level group, by path.
	path := fmt.Sprintf("steps[%d]", groups-1) + strings.Repeat(".parallel[0]", maxGroupDepth-1)
	if _, ok := want[path]; !ok {
		t.Fatalf("no finding for the deepest group %s", path)
	}
}

// Deeper than MaxDepth is refused with one finding at the line where the
// limit is crossed, whatever the file's size.
func TestValidateDepthLimit(t *testing.T) {
	src := chainRunbook(50 << 10)
	ps := Validate("deep.yaml", src, testCatalog())
	if len(ps) != 1 {
		t.Fatalf("got %d problems, want 1: %v", len(ps), ps[:min(3, len(ps))])
	}
	p := ps[0]
	if !strings.Contains(p.Message, fmt.Sprintf("nesting deeper than %d levels", MaxDepth)) || p.Line != 3 || p.Col == 0 {
		t.Fatalf("got %s, want the depth limit at deep.yaml:3:<col>", p)
	}
	if !strings.HasPrefix(p.String(), "deep.yaml:3:") {
		t.Fatalf("problem %q does not name file:line", p.String())
	}

	// Block style: the limit's line is the deep group's own line.
	src = nestedRunbook(30, maxGroupDepth+2)
	ps = Validate("deep.yaml", src, testCatalog())
	if len(ps) != 1 || !strings.Contains(ps[0].Message, "nesting deeper than") {
		t.Fatalf("got %v, want one depth-limit finding", ps)
	}
	if l := strings.TrimSpace(strings.Split(string(src), "\n")[ps[0].Line-1]); l == "" {
		t.Fatalf("depth finding at line %d points at an empty line", ps[0].Line)
	}
}

// A file over MaxSourceBytes is refused before it is parsed.
func TestValidateSizeLimit(t *testing.T) {
	src := []byte("name: big\ndescription: \"" + strings.Repeat("x", MaxSourceBytes) + "\"\nsteps: []\n")
	ps := Validate("big.yaml", src, testCatalog())
	if len(ps) != 1 || !strings.Contains(ps[0].String(), "big.yaml:1:1") || !strings.Contains(ps[0].Message, "over the 1048576-byte limit") {
		t.Fatalf("got %v, want one size-limit finding at big.yaml:1:1", ps)
	}
	if _, _, err := Parse("big.yaml", src); err == nil || !strings.Contains(err.Error(), "byte limit") {
		t.Fatalf("Parse: %v, want the size limit", err)
	}
}

// ReadFile refuses a file over MaxSourceBytes without loading it whole.
func TestReadFileSizeLimit(t *testing.T) {
	dir := t.TempDir()
	big := dir + "/big.yaml"
	if err := os.WriteFile(big, make([]byte, MaxSourceBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(big); err == nil || !strings.Contains(err.Error(), "over the 1048576-byte limit") {
		t.Fatalf("ReadFile: %v, want the size limit", err)
	}
	if _, _, err := Load(big); err == nil || !strings.Contains(err.Error(), big) {
		t.Fatalf("Load: %v, want the size limit naming the file", err)
	}
	ok := dir + "/ok.yaml"
	if err := os.WriteFile(ok, []byte("name: ok\nsteps: [{id: a, action: core.wait, with: {duration: 1s}}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(ok); err != nil {
		t.Fatalf("Load of a small file: %v", err)
	}
}

// Every unknown step reference is reported; hints are given while the
// comparison budget lasts (a small file always gets them), never a stall.
func TestValidateWideUnknownReferences(t *testing.T) {
	src := wideRunbook(360 << 10)
	n := strings.Count(string(src), "  - {id:")
	ps := Validate("wide.yaml", src, testCatalog())
	if len(ps) != n {
		t.Fatalf("%d problems for %d steps with an unknown reference", len(ps), n)
	}
	for i, p := range ps {
		if !strings.Contains(p.Message, fmt.Sprintf("nosuch_%d", i)) || p.Line != i+3 {
			t.Fatalf("problem %d = %s, want step nosuch_%d at line %d", i, p, i, i+3)
		}
	}
	small := "name: s\nsteps:\n  - {id: lock, action: notify.console, with: {message: hi}}\n  - {id: b, action: notify.console, when: steps.lokc.ok, with: {message: hi}}\n"
	ps = Validate("s.yaml", []byte(small), testCatalog())
	if len(ps) != 1 || !strings.Contains(ps[0].Message, "did you mean lock?") {
		t.Fatalf("got %v, want the hint for lock", ps)
	}
}
