package exchange

import "github.com/keyresponse/runbook/activities"

// Actions returns every exchange action, for activities.NewRegistry.
func Actions(d Deps) []activities.Action {
	return []activities.Action{
		cancelOrders(d),
		revokeKey(d),
		createKey(d),
		setIPWhitelist(d),
		verifyKey(d),
		auditKeys(d),
		selfRevoke(d),
		restrictKeys(d),
	}
}
