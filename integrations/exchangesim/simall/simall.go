// Package simall builds an exchange simulator with every dialect mounted;
// `runbook dev` and `runbook exchangesim` use it.
package simall

import (
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/binancesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/bybitsim"
	"github.com/keyresponse/runbook/integrations/exchangesim/okxsim"
)

// Dialects returns a fresh instance of every dialect.
func Dialects() []exchangesim.Dialect {
	return []exchangesim.Dialect{
		binancesim.New(),
		okxsim.New(),
		bybitsim.New(),
	}
}

// New builds a simulator with every dialect (opts.Dialects is replaced).
func New(opts exchangesim.Options) *exchangesim.Sim {
	opts.Dialects = Dialects()
	return exchangesim.New(opts)
}
