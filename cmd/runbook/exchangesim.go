package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/simall"
)

func newExchangeSimCommand(g *globals) *cobra.Command {
	var port int
	var bot string
	c := &cobra.Command{
		Use:   "exchangesim",
		Short: "Run the exchange simulator (Binance, OKX, Bybit dialects) on its own, for drills and demos",
		Long: `exchangesim serves the subset of the Binance, OKX and Bybit REST APIs the engine's ccxt calls use, on
127.0.0.1, verifying each dialect's signatures and enforcing keys, permissions and IP whitelists. Its admin API
is under /_sim/. runbook dev runs one too; the attack and keys subcommands talk to whichever is given
(--sim-url, default the dev engine's).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sim := simall.New(exchangesim.Options{})
			if err := sim.Start(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
				return err
			}
			defer sim.Close()
			if bot != "" {
				if _, err := sim.SeedDemo(exchangesim.DemoOptions{Bot: bot}); err != nil {
					return err
				}
			}
			fmt.Fprintf(g.stdout, "exchange simulator on %s (dialects: %v); admin API %s/_sim/\n", sim.URL(), sim.Dialects(), sim.URL())
			<-cmd.Context().Done()
			return nil
		},
	}
	c.Flags().IntVar(&port, "port", 7070, "port on 127.0.0.1 (0 = any free port)")
	c.Flags().StringVar(&bot, "demo-bot", "bot-1", "seed a demo account with this bot sub-account (empty: none)")
	c.AddCommand(newSimAttackCommand(g), newSimKeysCommand(g))
	return c
}

// simURL is the simulator the subcommands talk to.
func (g *globals) simURL(flag string) string {
	if flag != "" {
		return flag
	}
	if dev, ok := g.devEndpoints(); ok && dev.ExchangeSim != "" {
		return dev.ExchangeSim
	}
	return "http://127.0.0.1:7070"
}

func simJSON(ctx context.Context, method, url string, in, out any) error {
	var body bytes.Buffer
	if in != nil {
		if err := json.NewEncoder(&body).Encode(in); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, url, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("exchange simulator: %w (is `runbook dev` or `runbook exchangesim` running?)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("exchange simulator %s %s: %d %s", method, url, resp.StatusCode, e.Error)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// botKey finds the live key of a bot's sub-account (the demo names the
// sub-account and the key's label after the bot).
func botKey(ctx context.Context, base, exchange, bot string) (exchangesim.Key, error) {
	var accounts []exchangesim.Account
	if err := simJSON(ctx, http.MethodGet, base+"/_sim/accounts?exchange="+exchange, nil, &accounts); err != nil {
		return exchangesim.Key{}, err
	}
	for _, a := range accounts {
		if a.Name != bot && a.Email != bot {
			continue
		}
		var keys []exchangesim.Key
		if err := simJSON(ctx, http.MethodGet, base+"/_sim/keys?exchange="+exchange+"&account="+a.ID, nil, &keys); err != nil {
			return exchangesim.Key{}, err
		}
		for _, k := range keys {
			if !k.Revoked {
				return k, nil
			}
		}
	}
	return exchangesim.Key{}, fmt.Errorf("no live key for bot %s on %s", bot, exchange)
}

func newSimKeysCommand(g *globals) *cobra.Command {
	var simURL, exchange string
	c := &cobra.Command{
		Use:   "keys",
		Short: "List the simulator's keys (never their secrets): permissions, whitelist, revoked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var keys []exchangesim.Key
			if err := simJSON(cmd.Context(), http.MethodGet, g.simURL(simURL)+"/_sim/keys?revoked=1&exchange="+exchange, nil, &keys); err != nil {
				return err
			}
			if asJSON, _ := g.jsonOutput(); asJSON {
				return g.printJSON(keys)
			}
			for _, k := range keys {
				state := "live"
				if k.Revoked {
					state = "REVOKED"
				}
				fmt.Fprintf(g.stdout, "%-8s %-28s %-22s %-7s trade=%v withdraw=%v ips=%v\n", k.Exchange, k.ID, k.Label, state, k.Perms.Trade, k.Perms.Withdraw, k.IPs)
			}
			return nil
		},
	}
	c.Flags().StringVar(&simURL, "sim-url", "", "simulator URL (default: the dev engine's)")
	c.Flags().StringVar(&exchange, "exchange", "", "only this exchange")
	return c
}

func newSimAttackCommand(g *globals) *cobra.Command {
	var (
		simURL, exchange, bot, from string
		every, duration             time.Duration
	)
	c := &cobra.Command{
		Use:   "attack",
		Short: "Leak a bot's key and trade with it from an attacker IP until the exchange refuses it",
		Long: `attack marks the bot's live key as leaked in the simulator, then places orders with it from --from
(default 127.0.0.66) every --every, printing each change between accepted and refused. Run it, send the
breach event, and watch the attacker get locked out. The key's secret stays inside this process.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			base := g.simURL(simURL)
			k, err := botKey(ctx, base, exchange, bot)
			if err != nil {
				return err
			}
			var leaked exchangesim.Key
			if err := simJSON(ctx, http.MethodPost, base+"/_sim/keys/leak", map[string]string{"exchange": exchange, "id": k.ID}, &leaked); err != nil {
				return err
			}
			ex, err := xchg.Open(xchg.Config{Exchange: exchange, BaseURL: base + "/" + exchange})
			if err != nil {
				return err
			}
			tp, ok := ex.(xchg.TraderProvider)
			if !ok {
				return fmt.Errorf("the %s adapter cannot trade", exchange)
			}
			trader := tp.Trader(xchg.Credential{APIKey: leaked.ID, Secret: leaked.Secret, Passphrase: leaked.Passphrase}, from)
			fmt.Fprintf(g.stdout, "attacker on %s trading with leaked key %s of %s on %s\n", from, k.ID, bot, exchange)
			var ok1, refused int
			last := ""
			start := time.Now()
			tick := time.NewTicker(every)
			defer tick.Stop()
			deadline := time.After(duration)
			for {
				select {
				case <-ctx.Done():
					fmt.Fprintf(g.stdout, "stopped: %d accepted, %d refused\n", ok1, refused)
					return nil
				case <-deadline:
					fmt.Fprintf(g.stdout, "done: %d accepted, %d refused\n", ok1, refused)
					return nil
				case <-tick.C:
					_, err := trader.PlaceOrder(ctx, "BTC/USDT", "buy", 0.001, 1000)
					state := "accepted"
					if err != nil {
						refused++
						state = "refused (" + string(xchg.KindOf(err)) + ")"
					} else {
						ok1++
					}
					if state != last {
						fmt.Fprintf(g.stdout, "+%-9s attacker order %s\n", time.Since(start).Round(time.Millisecond), state)
						last = state
					}
				}
			}
		},
	}
	c.Flags().StringVar(&simURL, "sim-url", "", "simulator URL (default: the dev engine's)")
	c.Flags().StringVar(&exchange, "exchange", "binance", "binance, okx or bybit")
	c.Flags().StringVar(&bot, "bot", "bot-1", "the bot whose key leaks")
	c.Flags().StringVar(&from, "from", "127.0.0.66", "the attacker's source IP (any 127.0.0.0/8 address)")
	c.Flags().DurationVar(&every, "every", 100*time.Millisecond, "time between attacker orders")
	c.Flags().DurationVar(&duration, "duration", 2*time.Minute, "stop after this long")
	return c
}
