package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// Export writes records as JSON lines, one record per line, exactly as
// stored, so an exported copy verifies (or fails) the same way the stream does.
func Export(w io.Writer, recs []Record) error {
	enc := json.NewEncoder(w)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
	}
	return nil
}

// Import reads JSON lines written by Export. A line that is not a record is
// an error naming the line.
func Import(r io.Reader) ([]Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	var out []Record
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return out, fmt.Errorf("audit import: line %d: %w", line, err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("audit import: %w", err)
	}
	return out, nil
}
