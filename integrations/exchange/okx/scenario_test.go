package okx_test

import (
	"testing"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/exchangetest"
	"github.com/keyresponse/runbook/integrations/exchange/okx"
	"github.com/keyresponse/runbook/integrations/exchangesim/okxsim"
)

func TestLeakedKeyScenario(t *testing.T) { exchangetest.LeakedKeyScenario(t, dialect) }

func TestContainmentUnderFaults(t *testing.T) { exchangetest.ContainmentUnderFaults(t, dialect) }

// TestLostCreateAnswer: besides the label lookup finding the key the lost
// request made, OKX itself refuses a duplicate label (59502), so a retry
// that skipped the lookup still could not make a second key.
func TestLostCreateAnswer(t *testing.T) {
	exchangetest.LostCreateAnswer(t, dialect, func(t *testing.T, f *exchangetest.Fixture, req exchange.CreateKeyRequest) {
		if _, err := f.Ex.CreateKey(exchangetest.Ctx(t), req); exchange.KindOf(err) != exchange.KindInvalid ||
			exchangetest.Code(err) != okxsim.CodeDupLabel {
			t.Fatalf("second create with the same label: err = %v, want invalid 59502", err)
		}
		if n := len(f.Sim.Keys(okx.Name, f.Demo.Sub.ID, false)); n != 2 { // the demo bot key and this one
			t.Fatalf("live keys = %d, want 2", n)
		}
	})
}
