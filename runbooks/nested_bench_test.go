package runbooks

import (
	"fmt"
	"strings"
	"testing"
)

// maxGroupDepth is how many parallel groups can nest before a member's
// `with` map reaches MaxDepth: the root, steps and each group's mapping and
// list take one level each.
const maxGroupDepth = (MaxDepth - 4) / 2

// nestedRunbook writes a runbook of top-level parallel groups, each nesting
// groups depth levels deep in block style (indentation grows with depth as an
// editor writes it), repeated until the file reaches size bytes. Nested groups
// are invalid, so every level is a finding: the worst case for validation.
func nestedRunbook(size, depth int) []byte {
	var b strings.Builder
	b.WriteString("name: nested\nsteps:\n")
	for g := 0; b.Len() < size; g++ {
		ind := ""
		for d := 0; d < depth; d++ {
			fmt.Fprintf(&b, "%s  - id: g%d_%d\n%s    parallel:\n", ind, g, d, ind)
			ind += "    "
		}
		fmt.Fprintf(&b, "%s  - id: leaf%d\n%s    action: notify.console\n%s    with: {message: \"hi ${{ inputs.x }}\"}\n", ind, g, ind, ind)
	}
	return []byte(b.String())
}

// chainRunbook writes one group chain in flow style nested as deep as size
// bytes allow: the shape that made validate cubic in the depth (a 49 KB file
// took 12 s and 1.1 GB). It is now stopped at MaxDepth.
func chainRunbook(size int) []byte {
	depth := size / 24
	var b strings.Builder
	b.WriteString("name: nested\nsteps:\n  - ")
	for d := 0; d < depth; d++ {
		fmt.Fprintf(&b, "{id: g%d, parallel: [", d)
	}
	b.WriteString("{id: leaf, action: notify.console, with: {message: hi}}")
	b.WriteString(strings.Repeat("]}", depth))
	b.WriteString("\n")
	return []byte(b.String())
}

// BenchmarkValidateNested shows validation linear in the file's size: the
// ns/op and B/op of the same shape grow with the size, not faster.
//
//	go test -run '^$' -bench ValidateNested -benchmem ./runbooks/
func BenchmarkValidateNested(b *testing.B) {
	cat := testCatalog()
	for _, kb := range []int{10, 50, 120} {
		for _, shape := range []struct {
			name string
			src  []byte
		}{
			{fmt.Sprintf("groups-depth=%d", maxGroupDepth), nestedRunbook(kb<<10, maxGroupDepth)},
			{"chain", chainRunbook(kb << 10)},
		} {
			b.Run(fmt.Sprintf("%s/size=%dKB", shape.name, kb), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(shape.src)))
				for i := 0; i < b.N; i++ {
					Validate("nested.yaml", shape.src, cat)
				}
			})
		}
	}
}

// wideRunbook writes n top-level steps, each referring to a step that does
// not exist: every finding looks for a "did you mean" among all step ids.
func wideRunbook(size int) []byte {
	var b strings.Builder
	b.WriteString("name: wide\nsteps:\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "  - {id: step_%d, action: notify.console, when: steps.nosuch_%d.ok, with: {message: hi}}\n", i, i)
	}
	return []byte(b.String())
}

// BenchmarkValidateWide: many steps with unknown references (hints were
// quadratic in the number of steps: 370 KB took 10 s).
//
//	go test -run '^$' -bench ValidateWide -benchmem ./runbooks/
func BenchmarkValidateWide(b *testing.B) {
	cat := testCatalog()
	for _, kb := range []int{10, 50, 120, 360} {
		src := wideRunbook(kb << 10)
		b.Run(fmt.Sprintf("size=%dKB", kb), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for i := 0; i < b.N; i++ {
				Validate("wide.yaml", src, cat)
			}
		})
	}
}
