package runbooks

import (
	"fmt"
	"io"
	"os"
)

// Resource limits of the loader. A runbook is hand-written text a few KB
// long; these bounds are far above any real one and exist so that a hostile
// or generated file cannot make `runbook validate`, the worker or the trigger
// consumer spend seconds of CPU and gigabytes of memory on it (a 49 KB file of
// nested parallel groups once took 12 s and 1.1 GB: every finding rebuilt its
// field path by repeated concatenation, cubic in the depth).
const (
	// MaxSourceBytes caps a runbook file's size. The largest shipped runbook
	// is under 10 KB.
	MaxSourceBytes = 1 << 20
	// MaxDepth caps how deeply collections (mappings and lists) nest. A
	// valid runbook needs 6 levels for a group member's params
	// (steps[i].parallel[j].with) plus whatever nesting the params hold;
	// since every finding carries its field path, the depth bounds the cost
	// of each finding and so keeps validation linear in the file's size.
	MaxDepth = 32
)

// sizeProblem is the finding for a file over MaxSourceBytes, or nil.
func sizeProblem(file string, src []byte) []Problem {
	if len(src) <= MaxSourceBytes {
		return nil
	}
	return []Problem{{File: file, Line: 1, Col: 1,
		Message: fmt.Sprintf("runbook file is %d bytes, over the %d-byte limit (MaxSourceBytes)", len(src), MaxSourceBytes)}}
}

// ReadFile reads a runbook file, refusing one over MaxSourceBytes without
// reading the rest of it (os.ReadFile would load a multi-gigabyte file whole
// before the size check could refuse it).
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxSourceBytes+1))
	if err != nil {
		return nil, err
	}
	if len(src) > MaxSourceBytes {
		return nil, fmt.Errorf("runbook file is over the %d-byte limit (MaxSourceBytes)", MaxSourceBytes)
	}
	return src, nil
}
