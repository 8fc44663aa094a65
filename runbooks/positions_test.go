package runbooks

import (
	"os"
	"testing"
)

func TestSourcePositions(t *testing.T) {
	src, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, s, err := Parse("testdata/valid.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path      string
		line, col int
	}{
		{"name", 2, 7},
		{"steps", 29, 1},                            // a sequence: its key
		{"steps[0]", 30, 5},                         // a step: where its mapping starts
		{"steps[0].action", 31, 13},                 // a scalar: its value
		{"steps[0].with.bot", 33, 12},               // a param
		{"steps[0].retry.initial_interval", 36, 25}, // nested
		{"steps[1].parallel[0].action", 45, 17},     // parallel member
		{"steps[1].parallel[1].with.headers.X-Bot", 55, 28},
		{"steps[1].parallel[1].with.expect_status", 56, 26},
		{"steps[2].approval", 58, 5}, // a mapping: its key
		{"steps[2].approval.on_timeout", 62, 19},
		{"steps[3].compensate.with.message", 72, 18},
		{"triggers[0].inputs.bot", 27, 12},
		{"steps[0].with.key_id", 32, 5}, // missing: falls back to with
		{"steps[9]", 29, 1},             // missing: falls back to steps
	}
	for _, tc := range tests {
		line, col := s.Pos(tc.path)
		if line != tc.line || col != tc.col {
			t.Errorf("Pos(%s) = %d:%d, want %d:%d", tc.path, line, col, tc.line, tc.col)
		}
	}
	if line, col := s.KeyPos("steps[0].action"); line != 31 || col != 5 {
		t.Errorf("KeyPos(steps[0].action) = %d:%d, want 31:5", line, col)
	}
	if !s.Has("steps[1].parallel[1].when") || s.Has("steps[1].when") {
		t.Error("Has reports the wrong fields")
	}
}
