package deploy

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/keyresponse/runbook/events/natsauth"
)

// composeRoles maps the compose cluster's NATS users to the roles of
// events/natsauth, which owns what each role may do.
var composeRoles = map[string]natsauth.Role{
	"runbook":          natsauth.RoleEngine,
	"admin":            natsauth.RoleAdmin,
	"operator":         natsauth.RoleOperator,
	"breach-publisher": natsauth.RolePublisher,
}

// Every compose NATS node has exactly natsauth's users: each in its role's
// account with its role's permissions, so the production shape and
// `runbook dev` cannot drift apart.
func TestComposeNATSUsersFollowTheNATSAuthPolicy(t *testing.T) {
	setNATSEnv(t)
	for i := 1; i <= 3; i++ {
		path := filepath.Join("compose", "nats", "nats-"+string(rune('0'+i))+".conf")
		opts, err := server.ProcessConfigFile(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		seen := map[natsauth.Role]bool{}
		for _, u := range opts.Users {
			if u.Account != nil && u.Account.Name == "SYS" {
				continue
			}
			role, ok := composeRoles[u.Username]
			if !ok {
				t.Errorf("%s: user %q has no role in events/natsauth", path, u.Username)
				continue
			}
			seen[role] = true
			if u.Account == nil || u.Account.Name != natsauth.AccountOf(role) {
				t.Errorf("%s: user %q is not in account %s", path, u.Username, natsauth.AccountOf(role))
			}
			want := natsauth.PermissionsOf(role)
			var got natsauth.Permissions
			if p := u.Permissions; p != nil {
				if p.Publish != nil {
					got.PublishAllow, got.PublishDeny = p.Publish.Allow, p.Publish.Deny
				}
				if p.Subscribe != nil {
					got.SubscribeAllow, got.SubscribeDeny = p.Subscribe.Allow, p.Subscribe.Deny
				}
			}
			for _, l := range []struct {
				name      string
				got, want []string
			}{{"publish.allow", got.PublishAllow, want.PublishAllow}, {"publish.deny", got.PublishDeny, want.PublishDeny},
				{"subscribe.allow", got.SubscribeAllow, want.SubscribeAllow}, {"subscribe.deny", got.SubscribeDeny, want.SubscribeDeny}} {
				g, w := slices.Sorted(slices.Values(l.got)), slices.Sorted(slices.Values(l.want))
				if !slices.Equal(g, w) {
					t.Errorf("%s: user %q %s = %v, natsauth says %v", path, u.Username, l.name, g, w)
				}
			}
		}
		for _, r := range natsauth.Roles {
			if !seen[r] {
				t.Errorf("%s: no user for role %s", path, r)
			}
		}
	}
}
