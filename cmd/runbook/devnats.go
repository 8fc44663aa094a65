package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/natsauth"
	"github.com/keyresponse/runbook/integrations/natsdev"
)

// devNATSUsersDir holds the dev NATS users' nkey seeds, one per role
// (engine.nk, admin.nk, operator.nk, publisher.nk; mode 0600).
func devNATSUsersDir(home string) string { return filepath.Join(home, "nats-users") }

// startDevNATS runs the embedded NATS with the engine's accounts and
// least-privilege users (events/natsauth), provisioning their seeds in the
// home on first start: nothing connects without one of them.
func startDevNATS(home string, port int, lanes []ingest.Lane) (*natsdev.Server, error) {
	users, err := natsauth.EnsureSeeds(devNATSUsersDir(home))
	if err != nil {
		return nil, fmt.Errorf("nats users: %w", err)
	}
	var names []string
	for _, l := range lanes {
		names = append(names, l.Publisher)
	}
	pubs, err := natsauth.EnsurePublisherSeeds(devNATSUsersDir(home), names)
	if err != nil {
		return nil, fmt.Errorf("nats publishers: %w", err)
	}
	conf, err := natsauth.ServerConfig(users, pubs...)
	if err != nil {
		return nil, err
	}
	return natsdev.Start(natsdev.Options{Port: port, StoreDir: filepath.Join(home, "nats"), Config: conf})
}

// devDefaultPublisher is the lane publisher `runbook dev` provisions when
// the config names none, so the dev stack has the production shape.
const devDefaultPublisher = "monitor"

// devLanes are the publisher lanes of a dev stack: the options' (bench),
// else the config's, else one named monitor.
func devLanes(o devOptions) []ingest.Lane {
	if o.publishers != nil {
		return o.publishers
	}
	if o.cfg != nil && len(o.cfg.Events.Publishers) > 0 {
		return o.cfg.Events.Lanes()
	}
	return []ingest.Lane{{Publisher: devDefaultPublisher}}
}

// devNATSSeed is role's seed file in the dev home, or "" when there is
// none (no dev engine ever ran there).
func devNATSSeed(home string, role natsauth.Role) string {
	p := natsauth.SeedFile(devNATSUsersDir(home), role)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// withDevCredential gives o role's dev seed when o carries no credential
// of its own (none from the environment or the config file): every verb
// finds the dev engine's NATS with no flags, as the role the verb needs.
func withDevCredential(o ingest.ConnOptions, home string, role natsauth.Role) ingest.ConnOptions {
	if hasCredential(o) {
		return o
	}
	o.NKeyFile = devNATSSeed(home, role)
	return o
}

// hasCredential: o carries a credential of its own (environment or config).
func hasCredential(o ingest.ConnOptions) bool {
	return o.CredsFile != "" || o.NKeyFile != "" || o.User != "" || o.Token != ""
}

// engineConnOptions are what every engine connection adds: replies on
// the engine's own inbox prefix, out of operators' sight.
func engineConnOptions(o ingest.ConnOptions) ingest.ConnOptions {
	o.Extra = append(append([]nats.Option(nil), o.Extra...), nats.CustomInboxPrefix(natsauth.EngineInboxPrefix))
	return o
}

// laneSummary names each lane publisher and its stream, for the dev banner.
func laneSummary(lanes []ingest.Lane) string {
	var parts []string
	for _, l := range lanes {
		parts = append(parts, l.Publisher+" → "+ingest.LaneStream(l.Publisher))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
