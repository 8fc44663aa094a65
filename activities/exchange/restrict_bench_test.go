package exchange_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyresponse/runbook/activities"
	exact "github.com/keyresponse/runbook/activities/exchange"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/runbooks"
)

// BenchmarkRestrictKeys200 contains 200 leaked keys (no whitelist) on 200
// sub-accounts in one exchange.restrict_keys call against the simulator on
// 127.0.0.1, no faults; each iteration first lifts the whitelists again
// (untimed).
//
//	go test -run '^$' -bench RestrictKeys -benchtime 20x ./activities/exchange/
func BenchmarkRestrictKeys200(b *testing.B) {
	for _, conc := range []int{16, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			f := newFleet(b, 200)
			ex := f.open(b, f.url)
			reg, err := activities.NewRegistry(exact.Actions(exact.Deps{
				Exchanges: func(context.Context, string) (xchg.Exchange, error) { return ex, nil }})...)
			if err != nil {
				b.Fatal(err)
			}
			req := runbooks.ActionRequest{Action: "exchange.restrict_keys",
				Params: map[string]any{"targets": f.targets(0, func(int) string { return "binance" }), "concurrency": conc}}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for _, k := range f.keys {
					_, _ = f.sim.UpdateKey("binance", k.ID, func(k *exchangesim.Key) error { k.IPs = nil; return nil })
				}
				b.StartTimer()
				if _, err := reg.Run(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/200, "µs/key")
		})
	}
}
