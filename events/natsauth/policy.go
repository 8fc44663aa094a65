package natsauth

import (
	"fmt"
	"sort"
	"strings"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/ingest"
)

// Role is what a NATS user may do.
type Role string

// The roles, in the order `runbook dev` provisions and prints them.
const (
	RoleEngine    Role = "engine"
	RoleAdmin     Role = "admin"
	RoleOperator  Role = "operator"
	RolePublisher Role = "publisher"
)

// Roles lists every role.
var Roles = []Role{RoleEngine, RoleAdmin, RoleOperator, RolePublisher}

// Accounts.
const (
	AccountEngine     = "ENGINE"
	AccountPublishers = "PUBLISHERS"
)

// EngineInboxPrefix is the engine's reply prefix (see the package doc).
// Every engine connection must use it: nats.CustomInboxPrefix.
const EngineInboxPrefix = "_INBOX_engine"

// AccountOf is the account a role's users live in.
func AccountOf(r Role) string {
	if r == RolePublisher {
		return AccountPublishers
	}
	return AccountEngine
}

// Permissions are a user's publish and subscribe allow/deny lists, as
// nats-server's authorization block has them; empty allow means all.
type Permissions struct {
	PublishAllow   []string
	PublishDeny    []string
	SubscribeAllow []string
	SubscribeDeny  []string
}

// PermissionsOf is the policy: what each role may publish and subscribe to.
func PermissionsOf(r Role) Permissions {
	switch r {
	case RoleEngine:
		// The engine creates and updates streams, consumers and KV
		// buckets and deletes messages (a dead-lettered event with a
		// secret is erased from BREACH), but never removes a stream or
		// its contents wholesale, and never deletes audit records.
		return Permissions{PublishDeny: []string{
			"$JS.API.STREAM.DELETE.>",
			"$JS.API.STREAM.PURGE.>",
			"$JS.API.STREAM.MSG.DELETE." + audit.StreamName,
		}}
	case RoleAdmin:
		return Permissions{}
	case RoleOperator:
		return Permissions{
			PublishAllow:   auditReadAPI(),
			SubscribeAllow: []string{"_INBOX.>"},
		}
	case RolePublisher:
		return Permissions{
			PublishAllow:   []string{ingest.SubjectsBreach},
			SubscribeAllow: []string{"_INBOX.>"},
		}
	}
	panic(fmt.Sprintf("natsauth: unknown role %q", r))
}

// auditReadAPI is the JetStream API an audit reader needs: stream info and
// direct and stored-message gets (audit.DirectReads). No consumers: the
// server does not check a consumer's deliver subject against its creator's
// permissions, so a reader allowed to create one could have AUDIT pushed
// into breach.> or a KV bucket. No create/update/delete of the stream, no
// publish on audit subjects.
func auditReadAPI() []string {
	s := audit.StreamName
	return []string{
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO." + s,
		"$JS.API.STREAM.MSG.GET." + s,
		"$JS.API.DIRECT.GET." + s,
		"$JS.API.DIRECT.GET." + s + ".>",
	}
}

// Users maps each role to the nkey public keys (U…) of its users.
type Users map[Role][]string

// ServerConfig renders the policy as nats-server configuration text: the
// accounts block with every user and its permissions, ENGINE's export of
// breach.> and PUBLISHERS' import of it, and one account per named
// publisher with its lane (lanes.go). Every role must have a user.
func ServerConfig(u Users, pubs ...Publisher) (string, error) {
	byAccount := map[string][]string{}
	for _, r := range Roles {
		keys := u[r]
		if len(keys) == 0 {
			return "", fmt.Errorf("natsauth: no %s user", r)
		}
		for _, k := range keys {
			if err := checkNKey(k); err != nil {
				return "", fmt.Errorf("natsauth: %s %w", r, err)
			}
			byAccount[AccountOf(r)] = append(byAccount[AccountOf(r)], userBlock(k, PermissionsOf(r)))
		}
	}
	var b strings.Builder
	b.WriteString("# Generated from events/natsauth: who may do what on the engine's NATS.\n")
	b.WriteString("accounts {\n")
	fmt.Fprintf(&b, "  %s {\n    jetstream: enabled\n    users: [\n%s    ]\n", AccountEngine, strings.Join(byAccount[AccountEngine], ""))
	lanes, err := laneAccounts(pubs)
	if err != nil {
		return "", err
	}
	exports := append([]string{fmt.Sprintf("{ service: %q }", ingest.SubjectsBreach)}, laneExports(pubs)...)
	fmt.Fprintf(&b, "    exports: [ %s ]\n  }\n", strings.Join(exports, ", "))
	fmt.Fprintf(&b, "  %s {\n    users: [\n%s    ]\n", AccountPublishers, strings.Join(byAccount[AccountPublishers], ""))
	fmt.Fprintf(&b, "    imports: [ { service: { account: %s, subject: %q } } ]\n  }\n", AccountEngine, ingest.SubjectsBreach)
	b.WriteString(lanes)
	b.WriteString("}\n")
	return b.String(), nil
}

// checkNKey refuses what is not an nkey user public key.
func checkNKey(k string) error {
	if !strings.HasPrefix(k, "U") || strings.ContainsAny(k, " \t\n\"'{}") {
		return fmt.Errorf("user %q is not an nkey user public key (U…)", k)
	}
	return nil
}

func userBlock(nkey string, p Permissions) string {
	var dirs []string
	if d := direction("publish", p.PublishAllow, p.PublishDeny); d != "" {
		dirs = append(dirs, d)
	}
	if d := direction("subscribe", p.SubscribeAllow, p.SubscribeDeny); d != "" {
		dirs = append(dirs, d)
	}
	if len(dirs) == 0 {
		return fmt.Sprintf("      { nkey: %s }\n", nkey)
	}
	return fmt.Sprintf("      { nkey: %s, permissions: { %s } }\n", nkey, strings.Join(dirs, ", "))
}

// direction renders one of publish/subscribe: { allow: [...], deny: [...] }.
func direction(name string, allow, deny []string) string {
	var lists []string
	for _, l := range []struct {
		kind     string
		subjects []string
	}{{"allow", allow}, {"deny", deny}} {
		if len(l.subjects) == 0 {
			continue
		}
		q := make([]string, len(l.subjects))
		for i, s := range l.subjects {
			q[i] = fmt.Sprintf("%q", s)
		}
		sort.Strings(q)
		lists = append(lists, fmt.Sprintf("%s: [%s]", l.kind, strings.Join(q, ", ")))
	}
	if len(lists) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: { %s }", name, strings.Join(lists, ", "))
}
