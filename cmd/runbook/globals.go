package main

import (
	"encoding/json"

	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/cmd/runbook/config"
)

// globals are the flags every verb shares. Precedence: flag, then
// environment (RUNBOOK_*), then the endpoints file `runbook dev` writes, then
// defaults, so that every verb works with no flags next to `runbook dev`.
type globals struct {
	stdout, stderr io.Writer

	home      string
	temporal  string
	namespace string
	natsURL   string
	taskQueue string
	output    string
	identity  string
	keyFile   string
	runbooks  []string
	config    string

	cfgLoaded bool
	cfgErr    error
	cfgVal    *config.Config
}

func (g *globals) bind(c *cobra.Command) {
	f := c.PersistentFlags()
	f.StringVar(&g.home, "home", "", "state directory (env RUNBOOK_HOME, default ~/.runbook)")
	f.StringVar(&g.temporal, "temporal-address", "", "Temporal frontend host:port (env RUNBOOK_TEMPORAL_ADDRESS)")
	f.StringVar(&g.namespace, "namespace", "", "Temporal namespace (env RUNBOOK_NAMESPACE, default \"default\")")
	f.StringVar(&g.natsURL, "nats-url", "", "NATS URL (env RUNBOOK_NATS_URL)")
	f.StringVar(&g.taskQueue, "task-queue", "", "Temporal task queue (env RUNBOOK_TASK_QUEUE, default \"runbook\")")
	f.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	f.StringVar(&g.identity, "as", "", "operator name to claim in signed statements (default: the roster entry owning --key); the worker refuses a name that does not own the key")
	f.StringVar(&g.keyFile, "key", "", "operator key to sign with (env RUNBOOK_OPERATOR_KEY, default <home>/operator/id_ed25519); a .pub file signs through ssh-agent")
	f.StringVar(&g.config, "config", "", "engine config file, YAML (env RUNBOOK_CONFIG); environment overrides it")
	f.StringSliceVar(&g.runbooks, "runbooks", nil, "extra directories of runbook YAML files (env RUNBOOK_PATH, ':'-separated)")
}

// endpoints is what `runbook dev` writes to <home>/dev.json.
type endpoints struct {
	Temporal  string `json:"temporal"`
	Namespace string `json:"namespace"`
	NATS      string `json:"nats"`
	TaskQueue string `json:"task_queue"`
	// ExchangeSim is the dev engine's exchange simulator URL.
	ExchangeSim string `json:"exchange_sim,omitempty"`
	PID         int    `json:"pid"`
}

// cfg returns the config file (with environment overrides applied), or an
// empty config when none is given.
func (g *globals) cfg() (*config.Config, error) {
	if g.cfgLoaded {
		return g.cfgVal, g.cfgErr
	}
	g.cfgLoaded = true
	path := pick(g.config, os.Getenv("RUNBOOK_CONFIG"))
	if path == "" {
		g.cfgVal = &config.Config{}
		g.cfgVal.ApplyEnv(os.Getenv)
		return g.cfgVal, nil
	}
	g.cfgVal, g.cfgErr = config.Load(path)
	if g.cfgErr != nil {
		g.cfgVal = &config.Config{}
	}
	return g.cfgVal, g.cfgErr
}

// mustCfg is cfg for callers that already checked the error (every verb
// calls g.cfg() through PersistentPreRunE).
func (g *globals) mustCfg() *config.Config {
	c, _ := g.cfg()
	return c
}

func (g *globals) homeDir() string {
	if g.home != "" {
		return g.home
	}
	if h := g.mustCfg().Home; h != "" {
		return h
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".runbook")
	}
	return ".runbook"
}

func (g *globals) devEndpoints() (endpoints, bool) {
	b, err := os.ReadFile(filepath.Join(g.homeDir(), "dev.json"))
	if err != nil {
		return endpoints{}, false
	}
	var e endpoints
	if json.Unmarshal(b, &e) != nil {
		return endpoints{}, false
	}
	return e, true
}

func pick(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// resolved returns the effective endpoints.
func (g *globals) resolved() endpoints {
	dev, _ := g.devEndpoints()
	c := g.mustCfg() // environment overrides already applied
	return endpoints{
		Temporal:  pick(g.temporal, c.Temporal.Address, dev.Temporal, "127.0.0.1:7233"),
		Namespace: pick(g.namespace, c.Temporal.Namespace, dev.Namespace, "default"),
		NATS:      pick(g.natsURL, c.NATS.URL, dev.NATS, "nats://127.0.0.1:4222"),
		TaskQueue: pick(g.taskQueue, c.Temporal.TaskQueue, dev.TaskQueue, "runbook"),
	}
}

// operator is the name this CLI gives Temporal and schedule notes (the
// client identity). It proves nothing: signed statements (operatorID) do.
func (g *globals) operator() string {
	if id := pick(g.identity, os.Getenv("RUNBOOK_IDENTITY")); id != "" {
		return id
	}
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

func (g *globals) runbookDirs() []string {
	dirs := append([]string{}, g.runbooks...)
	return append(dirs, g.mustCfg().Runbooks.Dirs...) // RUNBOOK_PATH is applied by ApplyEnv
}

func (g *globals) jsonOutput() (bool, error) {
	switch g.output {
	case "json":
		return true, nil
	case "text", "":
		return false, nil
	}
	return false, fmt.Errorf("--output %q: want text or json", g.output)
}

func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// searchAttributes says whether incidents get their search attributes
// (config temporal.search_attributes, default true).
func (g *globals) searchAttributes() bool {
	if v := g.mustCfg().Temporal.SearchAttributes; v != nil {
		return *v
	}
	return true
}

// writeTo is where a verb with an --out flag writes: the file at path
// (created or truncated, 0600: exports and reports are incident records),
// or standard output when path is empty. done closes the file.
func (g *globals) writeTo(path string) (w io.Writer, done func(), err error) {
	if path == "" {
		return g.stdout, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}
