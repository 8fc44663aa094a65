package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/worker"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/integrations/secrets"
)

// benchOptions are the sizes of one `runbook bench` run.
type benchOptions struct {
	only        []string
	n           int // incidents for time-to-contain and the floor
	massBots    int
	massTimeout time.Duration
	stormEvents int
	stormBots   int
	interpN     int
	floodEvents int
	floodDups   int
	floodN      int
	batch       int
	cpuProfile  string
	keep        bool
	timeline    bool
	starter     string
}

// benchRow is one line of the results table.
type benchRow struct {
	what, how string
	n         int
	samples   []time.Duration // empty: p50/p90/p99 print as "-"
	extra     string          // a rate, a count, a ratio
}

func newBenchCommand(g *globals) *cobra.Command {
	var o benchOptions
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure time to contain, the Temporal floor, mass breach, alert storm and interpreter overhead",
		Long: `bench starts the whole engine in this process, like runbook dev but on free ports and a
temporary home: Temporal (SQLite), NATS JetStream, the worker with the trigger consumer, the exchange
simulator and a fleet of bots (in-memory bots behind the signed webhook transport, one Binance
sub-account and one sloppy key each). It then runs, one after the other:

  contain   an attacker trades with a bot's leaked key from 127.0.0.66 as fast as it can; a signed
            key_leaked event is published; measured: event → attacker refused, attacker orders
            accepted after the event, event → lockout call at the exchange, event → bot confirms
            frozen, event → orders cancelled at the exchange, event → contain-key-breach finished
  floor     the same path with the engine removed: a bare workflow with one no-op activity,
            started from a JetStream message on the same servers (plain and eager start)
  mass      --mass-bots bots leaked at once, one event each (the consumer hands the burst to
            contain-fleet-breach), then --mass-bots other bots by one account_leaked event for their
            exchange account → all frozen, all re-keyed
  storm     --storm-events signed duplicate events over --storm-bots bots → exactly one incident
            per bot; ingest rate with signature checks on
  interp    contain-key-breach through the DSL interpreter vs the same steps as a hand-written
            Go workflow calling the same activities
  flood     a genuine breach's event → lockout with nothing queued, then behind --flood-events
            forged and unsigned events queued in a flooder's lane and --flood-dups signed
            duplicates in the genuine monitor's own lane, side by side with the ratio; the rate
            each flood is worked off at; the process's peak memory

and prints one table. Quick run: runbook bench --n 50 --mass-bots 100 --storm-events 20000 --storm-bots 20.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBench(cmd.Context(), g, o)
		},
	}
	f := c.Flags()
	f.StringSliceVar(&o.only, "only", nil, "run only these benchmarks: contain, floor, mass, storm, interp, flood")
	f.IntVar(&o.n, "n", 500, "incidents for time-to-contain (and workflows for the floor)")
	f.IntVar(&o.massBots, "mass-bots", 1000, "bots leaked at once in the mass-breach run")
	f.DurationVar(&o.massTimeout, "mass-timeout", 15*time.Minute, "give up on the mass breach after this long")
	f.IntVar(&o.stormEvents, "storm-events", 100000, "events in the alert storm")
	f.IntVar(&o.stormBots, "storm-bots", 100, "bots the storm's events are spread over")
	f.IntVar(&o.interpN, "interp-n", 50, "incidents per variant in the interpreter-overhead run")
	f.IntVar(&o.floodEvents, "flood-events", 1_000_000, "forged and unsigned events in each flood (from the flooder's lane)")
	f.IntVar(&o.floodDups, "flood-dups", 100_000, "signed duplicates in the monitor's own lane")
	f.IntVar(&o.floodN, "flood-n", 20, "genuine breaches measured with no flood and behind each flood")
	f.IntVar(&o.batch, "consumer-batch", 0, "most events the trigger consumer handles as one batch (0 = the engine's default)")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (engine and load in one process) to this file")
	f.StringVar(&o.starter, "starter", "eager", "how events start incidents: eager, lazy (same calls, no eager dispatch) or signal-with-start")
	f.BoolVar(&o.timeline, "timeline", false, "print the last contain incident's history, event by event, with times after the publish")
	f.BoolVar(&o.keep, "keep", false, "keep the temporary home (Temporal SQLite, NATS store, logs) for inspection")
	return c
}

func (o benchOptions) want(name string) bool {
	return len(o.only) == 0 || slices.Contains(o.only, name)
}

// benchEnv is the running stack and the fleet.
type benchEnv struct {
	stack *devStack
	fleet *fleet
	// groups of bots seeded for each benchmark, by name.
	groups map[string][]*fleetBot
	hooks  *benchHooks
	out    io.Writer
	// showTimeline prints the last contain incident's history timeline.
	showTimeline bool
	// closers close the bench's own connections (lane publishers).
	closers []func()
}

func runBench(ctx context.Context, g *globals, o benchOptions) error {
	home, err := os.MkdirTemp("", "runbook-bench-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(home)
	}
	all, err := g.triggerBooks()
	if err != nil {
		return err
	}
	// Only the breach runbooks trigger: other shipped runbooks would
	// match the same events and double the work.
	var books []ingest.LoadedRunbook
	for _, b := range all() {
		if b.Runbook.Name == benchRunbook || b.Runbook.Name == benchFleetRunbook {
			books = append(books, b)
		}
	}
	if len(books) == 0 {
		return fmt.Errorf("bench: the contain-key-breach runbook is not loaded")
	}
	fl, err := startFleet()
	if err != nil {
		return err
	}
	defer fl.close()
	env := &benchEnv{fleet: fl, groups: map[string][]*fleetBot{}, hooks: newBenchHooks(), out: g.stdout, showTimeline: o.timeline}
	sizes := map[string]int{}
	if o.want("contain") {
		sizes["contain"] = o.n
	}
	if o.want("mass") {
		sizes["mass"] = o.massBots
		sizes["fleet"] = o.massBots
	}
	if o.want("storm") {
		sizes["storm"] = o.stormBots
	}
	if o.want("interp") {
		sizes["interp-dsl"] = o.interpN
		sizes["interp-go"] = o.interpN
	}
	if o.want("flood") {
		sizes["flood"] = 4 * o.floodN
	}
	fmt.Fprintf(g.stderr, "bench: starting the embedded stack in %s and seeding %d bots\n", home, sum(sizes))
	seedStart := time.Now()
	stack, err := startDevStack(ctx, devOptions{
		home: home, taskQueue: "runbook-bench", console: io.Discard, identity: "runbook-bench",
		books:           func() []ingest.LoadedRunbook { return books },
		exchangeSimPort: 0, demoBotPort: -1, httpPort: -1,
		oncall:        g.mustCfg().Oncall,
		consumerBatch: o.batch,
		publishers:    benchFloodLanes(o.floodEvents, o.floodDups),
		starter:       o.starter,
		seedBots: func(ctx context.Context, ex *devExchange, store secrets.Store) (botSetup, error) {
			all := botSetup{facts: map[string]botFacts{}}
			for _, name := range []string{"contain", "mass", "fleet", "storm", "interp-dsl", "interp-go", "flood"} {
				if sizes[name] == 0 {
					continue
				}
				account := benchExchange
				if a, ok := benchAccounts[name]; ok {
					account = a
				}
				bots, setup, err := fl.seedOn(ctx, ex, store, name, sizes[name], account)
				if err != nil {
					return all, err
				}
				env.groups[name] = bots
				all = mergeBots(all, setup)
			}
			return all, nil
		},
		register: func(w worker.Worker) { env.hooks.register(w) },
	})
	if err != nil {
		return err
	}
	defer stack.stop()
	env.stack = stack
	defer func() {
		for _, c := range env.closers {
			c()
		}
	}()
	fmt.Fprintf(g.stderr, "bench: stack up, fleet seeded in %s\n", time.Since(seedStart).Round(time.Millisecond))

	if o.cpuProfile != "" {
		pf, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}

	var rows []benchRow
	step := func(name string, f func() ([]benchRow, error)) error {
		if !o.want(name) {
			return nil
		}
		fmt.Fprintf(g.stderr, "bench: %s …\n", name)
		start := time.Now()
		r, err := f()
		rows = append(rows, r...)
		if err != nil {
			return fmt.Errorf("bench %s: %w", name, err)
		}
		fmt.Fprintf(g.stderr, "bench: %s done in %s\n", name, time.Since(start).Round(time.Millisecond))
		return nil
	}
	var containP50 time.Duration
	if err := step("contain", func() ([]benchRow, error) {
		r, p50, err := benchContain(ctx, env, o.n)
		containP50 = p50
		return r, err
	}); err != nil {
		printBench(g.stdout, rows, o)
		return err
	}
	if err := step("floor", func() ([]benchRow, error) { return benchFloor(ctx, env, o.n, containP50) }); err != nil {
		printBench(g.stdout, rows, o)
		return err
	}
	if err := step("interp", func() ([]benchRow, error) { return benchInterp(ctx, env, o.interpN) }); err != nil {
		printBench(g.stdout, rows, o)
		return err
	}
	if err := step("mass", func() ([]benchRow, error) {
		r, err := benchMass(ctx, env, o.massTimeout)
		if err != nil {
			return r, err
		}
		r2, err := benchMassAccount(ctx, env, o.massTimeout)
		return append(r, r2...), err
	}); err != nil {
		printBench(g.stdout, rows, o)
		return err
	}
	if err := step("storm", func() ([]benchRow, error) { return benchStorm(ctx, env, o.stormEvents) }); err != nil {
		printBench(g.stdout, rows, o)
		return err
	}
	if err := step("flood", func() ([]benchRow, error) { return benchFlood(ctx, env, o.floodEvents, o.floodDups, o.floodN) }); err != nil {
		printBench(g.stdout, rows, o)
		return err
	}
	printBench(g.stdout, rows, o)
	return nil
}

func sum(m map[string]int) int {
	t := 0
	for _, v := range m {
		t += v
	}
	return t
}

// printBench prints the table, then the machine it ran on.
func printBench(w io.Writer, rows []benchRow, o benchOptions) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "what\thow measured\tn\tp50\tp90\tp99\tmore")
	for _, r := range rows {
		p50, p90, p99 := "-", "-", "-"
		if len(r.samples) > 0 {
			p50, p90, p99 = fmtDur(pct(r.samples, 50)), fmtDur(pct(r.samples, 90)), fmtDur(pct(r.samples, 99))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.what, r.how, r.n, p50, p90, p99, r.extra)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%s/%s, %d CPUs, %s; --starter %s; sizes: --n %d --mass-bots %d --storm-events %d --storm-bots %d --interp-n %d --flood-events %d --flood-dups %d --flood-n %d\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), o.starter, o.n, o.massBots, o.stormEvents, o.stormBots, o.interpN, o.floodEvents, o.floodDups, o.floodN)
}

// pct is the p-th percentile (nearest rank).
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return s[i]
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(10 * time.Microsecond).String()
	}
}

func pctInts(v []int, p float64) int {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
