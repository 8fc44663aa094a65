package bybit_test

import (
	"testing"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/exchangetest"
	"github.com/keyresponse/runbook/integrations/exchangesim"
)

func TestLeakedKeyScenario(t *testing.T) { exchangetest.LeakedKeyScenario(t, dialect) }

func TestContainmentUnderFaults(t *testing.T) { exchangetest.ContainmentUnderFaults(t, dialect) }

// TestLostCreateAnswer: after the label lookup found the key the lost
// request made, the simulator has seen exactly one create request, the
// dropped one: no second key was made.
func TestLostCreateAnswer(t *testing.T) {
	exchangetest.LostCreateAnswer(t, dialect, func(t *testing.T, f *exchangetest.Fixture, _ exchange.CreateKeyRequest) {
		if created := f.Sim.Calls(exchangesim.CallFilter{Op: "create_key"}); len(created) != 1 || !created[0].Dropped {
			t.Fatalf("create calls = %+v, want one, dropped after it ran", created)
		}
	})
}
