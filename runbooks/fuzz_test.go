package runbooks

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no input may crash the parser or the validator; a runbook file
// comes from operators' repositories and a crash would take the CLI or
// worker down with it.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		if src, err := os.ReadFile(file); err == nil {
			f.Add(src)
		}
	}
	for _, s := range Shipped() {
		f.Add(s.Src)
	}
	cat := testCatalog()
	f.Fuzz(func(t *testing.T, src []byte) {
		rb, s, err := Parse("fuzz.yaml", src)
		if err == nil && (rb == nil || s == nil) {
			t.Fatal("Parse succeeded without a runbook and source")
		}
		ps := Validate("fuzz.yaml", src, cat)
		if err == nil && len(ps) == 0 {
			// A valid runbook must also plan without panicking.
			_, _ = Plan(rb, cat, map[string]any{}, nil)
		}
		if err != nil && len(ps) == 0 {
			t.Fatalf("Parse failed (%v) but Validate found nothing", err)
		}
	})
}

// FuzzRenderString: templates come from runbook authors; rendering must
// return a value or an error, never panic.
func FuzzRenderString(f *testing.F) {
	for _, s := range []string{
		"plain",
		"${{ inputs.bot }}",
		"froze ${{ inputs.bot }}: ${{ steps.freeze.outputs.frozen }}",
		"${{ inputs.n * 2 }}",
		"${{ steps[\"a\"]?.outputs.x ?? 'none' }}",
		"${{ ",
		"${{ }}",
	} {
		f.Add(s)
	}
	scope := Scope{
		Inputs: map[string]any{"bot": "alpha", "n": 2.0, "ips": []any{"10.0.0.1"}},
		Event:  map[string]any{"data": map[string]any{"bot": "alpha"}},
		Steps:  map[string]StepScope{"freeze": {Status: "succeeded", Outputs: map[string]any{"frozen": true}}},
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = RenderString(s, scope)
		_, _ = planString(s, scope)
	})
}
