package main

import (
	"fmt"
	"strings"
)

// refuseUnsafe is `config check`'s production-safety check run by the
// worker at start, on what it will actually use: the resolved endpoints
// (flags, environment, file) and the roster. A worker that would speak
// plaintext to a remote Temporal, or has nobody who may act, refuses to start unless the config's allow_insecure names it.
func (g *globals) refuseUnsafe(ep endpoints) error {
	c := *g.mustCfg()
	c.Temporal.Address, c.NATS.URL = ep.Temporal, ep.NATS
	probs := c.Unsafe()
	if len(probs) == 0 {
		return nil
	}
	lines := make([]string, len(probs))
	for i, p := range probs {
		lines[i] = "  " + p.String()
	}
	return &exitError{code: 1, msg: fmt.Sprintf("worker: refusing an unsafe config:\n%s", strings.Join(lines, "\n"))}
}
