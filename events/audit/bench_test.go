package audit

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkAppend measures one fact appended to an incident that already
// holds b.N others (what a step costs the action it wraps: tip read + publish).
// go test -run x -bench Append ./events/audit
func BenchmarkAppend(b *testing.B) {
	n := startNATS(b)
	js := n.connect(b)
	if _, err := EnsureStream(context.Background(), js, StreamOptions{}); err != nil {
		b.Fatal(err)
	}
	s := NewStore(js, WithKeys(testKeys))
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Append(ctx, EvidenceFact(incident, fmt.Sprint(i), "breach.bot-1.x")); err != nil {
			b.Fatal(err)
		}
	}
}
