package exchangesim

import "fmt"

// DemoOptions shape SeedDemo.
type DemoOptions struct {
	// Exchanges to seed (default: every mounted dialect).
	Exchanges []string
	// Bot names one sub-account per exchange (default "bot-1").
	Bot string
	// EngineIPs whitelist the management key (default 127.0.0.1: the engine
	// talks to the simulator from the loopback default address).
	EngineIPs []string
}

// DemoAccount is what SeedDemo made on one exchange. It holds secrets: it is
// for `runbook dev` to configure the demo engine and bot, never to log.
type DemoAccount struct {
	Exchange   string  `json:"exchange"`
	BaseURL    string  `json:"base_url"`
	Main       Account `json:"main"`
	Sub        Account `json:"sub"`
	Management Key     `json:"management"` // ManageKeys, whitelisted to EngineIPs
	// Bot is deliberately a sloppy key — trade and withdraw, no whitelist —
	// the very thing the containment runbook replaces.
	Bot Key `json:"bot"`
}

// Demo is SeedDemo's result, one entry per exchange.
type Demo struct {
	Accounts []DemoAccount `json:"accounts"`
}

// Find returns the demo account of an exchange.
func (d Demo) Find(exchange string) (DemoAccount, bool) {
	for _, a := range d.Accounts {
		if a.Exchange == exchange {
			return a, true
		}
	}
	return DemoAccount{}, false
}

// SeedDemo creates, per exchange, a main account with a management key, a
// bot sub-account with balances, a bot key and two resting orders.
func (s *Sim) SeedDemo(o DemoOptions) (Demo, error) {
	if len(o.Exchanges) == 0 {
		o.Exchanges = s.Dialects()
	}
	if o.Bot == "" {
		o.Bot = "bot-1"
	}
	if len(o.EngineIPs) == 0 {
		o.EngineIPs = []string{"127.0.0.1"}
	}
	var d Demo
	for _, ex := range o.Exchanges {
		main, err := s.CreateAccount(ex, "main", "")
		if err != nil {
			return d, err
		}
		sub, err := s.CreateAccount(ex, o.Bot, main.ID)
		if err != nil {
			return d, err
		}
		mgmt, err := s.CreateKey(KeySpec{Exchange: ex, Account: main.ID, Label: "runbook-management",
			Perms: Perms{Read: true, ManageKeys: true}, IPs: o.EngineIPs, Passphrase: "Mgmt-" + randomToken(6)})
		if err != nil {
			return d, err
		}
		bot, err := s.CreateKey(KeySpec{Exchange: ex, Account: sub.ID, Label: o.Bot,
			Perms: Perms{Read: true, Trade: true, Withdraw: true}, Passphrase: "Bot-" + randomToken(6)})
		if err != nil {
			return d, err
		}
		s.SetBalance(sub.ID, "USDT", 10000)
		s.SetBalance(sub.ID, "BTC", 1)
		for i, price := range []float64{50000, 51000} {
			if _, err := s.PlaceOrder(Order{Account: sub.ID, KeyID: bot.ID, Symbol: "BTCUSDT", Side: "buy",
				Type: "limit", Price: price, Amount: 0.01, ClientOrderID: fmt.Sprintf("demo-%d", i+1)}); err != nil {
				return d, err
			}
		}
		d.Accounts = append(d.Accounts, DemoAccount{Exchange: ex, BaseURL: s.DialectURL(ex), Main: main, Sub: sub,
			Management: mgmt, Bot: bot})
	}
	return d, nil
}
