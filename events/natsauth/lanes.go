package natsauth

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/keyresponse/runbook/events/ingest"
)

// Publisher is a named publisher with a lane of its own (events/ingest,
// lanes.go): its own account, whose import maps the publisher's breach.>
// onto ingest.LaneSubjects(Name) in ENGINE, which exports that subject to
// this account alone. The server, not the event, then says who published,
// and what one publisher floods stays in its lane. Keys are its users'
// nkey public keys (U…); permissions are RolePublisher's.
type Publisher struct {
	Name string
	Keys []string
}

// AccountOfPublisher is a named publisher's account.
func AccountOfPublisher(name string) string {
	return "PUBLISHER_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// PublisherSeedFile is where a named publisher's nkey seed lives under dir.
func PublisherSeedFile(dir, name string) string {
	return filepath.Join(dir, "publisher-"+name+".nk")
}

// EnsurePublisherSeeds makes sure dir holds one user seed per named
// publisher (mode 0600), creating the missing ones.
func EnsurePublisherSeeds(dir string, names []string) ([]Publisher, error) {
	var out []Publisher
	for _, n := range names {
		if err := ingest.ValidPublisherName(n); err != nil {
			return nil, err
		}
		pub, err := ensureSeed(PublisherSeedFile(dir, n))
		if err != nil {
			return nil, err
		}
		out = append(out, Publisher{Name: n, Keys: []string{pub}})
	}
	return out, nil
}

// laneExports are ENGINE's exports of each publisher's lane, each to that
// publisher's account only (another account importing it is refused when
// the server loads its configuration).
func laneExports(pubs []Publisher) []string {
	var out []string
	for _, p := range pubs {
		out = append(out, fmt.Sprintf("{ service: %q, accounts: [%s] }", ingest.LaneSubjects(p.Name), AccountOfPublisher(p.Name)))
	}
	return out
}

// laneAccounts renders each publisher's account: its users and the import
// that maps its breach.> onto its lane.
func laneAccounts(pubs []Publisher) (string, error) {
	var b strings.Builder
	seen := map[string]bool{}
	for _, p := range pubs {
		if err := ingest.ValidPublisherName(p.Name); err != nil {
			return "", fmt.Errorf("natsauth: %w", err)
		}
		if seen[p.Name] {
			return "", fmt.Errorf("natsauth: publisher %q twice", p.Name)
		}
		seen[p.Name] = true
		if len(p.Keys) == 0 {
			return "", fmt.Errorf("natsauth: publisher %q has no user", p.Name)
		}
		var users []string
		for _, k := range p.Keys {
			if err := checkNKey(k); err != nil {
				return "", fmt.Errorf("natsauth: publisher %q: %w", p.Name, err)
			}
			users = append(users, userBlock(k, PermissionsOf(RolePublisher)))
		}
		fmt.Fprintf(&b, "  %s {\n    users: [\n%s    ]\n", AccountOfPublisher(p.Name), strings.Join(users, ""))
		fmt.Fprintf(&b, "    imports: [ { service: { account: %s, subject: %q }, to: %q } ]\n  }\n",
			AccountEngine, ingest.LaneSubjects(p.Name), ingest.SubjectsBreach)
	}
	return b.String(), nil
}
