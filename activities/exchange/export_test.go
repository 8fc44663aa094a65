package exchange

import "time"

// SetManagementRefresh changes how often ConfigResolver re-reads the
// management credential, for tests; it returns a function restoring it.
func SetManagementRefresh(d time.Duration) func() {
	old := managementRefresh
	managementRefresh = d
	return func() { managementRefresh = old }
}
