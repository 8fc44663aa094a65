// Package temporaldev runs a single-process Temporal server backed by a SQLite
// file, for `runbook dev` and end-to-end tests. State lives in a file so
// incidents survive a restart of the process; production uses an external
// Temporal cluster instead (see deploy/).
//
// The configuration mirrors what go.temporal.io/server/temporaltest's internal
// lite server does for SQLite (that package is internal, so it cannot be
// imported): one history shard, all four services in-process, the frontend
// on a known port and the other services on free ports.
package temporaldev

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// Options configure the embedded server.
type Options struct {
	// DBFile is the SQLite file. Empty means in-memory (state lost on exit).
	DBFile string
	// Host is the address the services bind to (default 127.0.0.1).
	Host string
	// FrontendPort is the gRPC port clients dial; 0 picks a free one.
	FrontendPort int
	// MetricsPort serves the server's own Prometheus metrics; 0 picks a free one.
	MetricsPort int
	// Namespace is registered at start (default "default").
	Namespace string
	// PortsFile, when set, keeps the ports of the internal services (history,
	// matching, worker and their membership ports) across restarts. Temporal
	// stores cluster membership in the database; with new ports after a crash
	// the restarted server would wait ~30 s trying to join its own dead
	// predecessor before serving.
	PortsFile string
	// LogFile receives the server's logs (empty: discarded). The server logs a
	// lot; keeping it out of the terminal keeps `runbook dev` readable.
	LogFile  string
	LogLevel string
}

// SearchAttributes are registered on the namespace so incidents can be
// filtered in the Web UI and with `runbook list`.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	"RunbookName":     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	"BotID":           enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	"Exchange":        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	"Severity":        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	"IncidentTrigger": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// Server is a running embedded Temporal server.
type Server struct {
	srv      temporal.Server
	hostPort string
	ns       string
}

// Start sets up the schema on first use, registers the namespace and starts
// every Temporal service in this process.
func Start(o Options) (*Server, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	var err error
	if o.FrontendPort == 0 {
		if o.FrontendPort, err = freePort(o.Host); err != nil {
			return nil, err
		}
	}
	if o.MetricsPort == 0 {
		if o.MetricsPort, err = freePort(o.Host); err != nil {
			return nil, err
		}
	}
	sqlCfg := &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		ConnectAttributes: map[string]string{},
		DatabaseName:      o.DBFile,
	}
	if o.DBFile == "" {
		sqlCfg.ConnectAttributes["mode"] = "memory"
		sqlCfg.ConnectAttributes["cache"] = "shared"
		sqlCfg.DatabaseName = fmt.Sprintf("runbook-%d", time.Now().UnixNano())
	} else {
		sqlCfg.ConnectAttributes["mode"] = "rwc"
		// WAL + normal sync: durable across a process kill, and far fewer
		// fsyncs than the default rollback journal.
		sqlCfg.ConnectAttributes["journal_mode"] = "wal"
		sqlCfg.ConnectAttributes["synchronous"] = "NORMAL"
		if err := os.MkdirAll(filepath.Dir(o.DBFile), 0o700); err != nil {
			return nil, fmt.Errorf("temporal state dir: %w", err)
		}
		if _, statErr := os.Stat(o.DBFile); errors.Is(statErr, os.ErrNotExist) {
			if err := sqlite.SetupSchema(sqlCfg); err != nil {
				return nil, fmt.Errorf("temporal schema setup in %s: %w", o.DBFile, err)
			}
		}
	}
	if o.DBFile == "" {
		if err := sqlite.SetupSchema(sqlCfg); err != nil {
			return nil, fmt.Errorf("temporal schema setup: %w", err)
		}
	}

	cfg, err := serverConfig(o, sqlCfg)
	if err != nil {
		return nil, err
	}
	nsCfg, err := sqlite.NewNamespaceConfig(cfg.ClusterMetadata.CurrentClusterName, o.Namespace, false, SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("namespace config: %w", err)
	}
	if err := sqlite.CreateNamespaces(sqlCfg, nsCfg); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", o.Namespace, err)
	}

	logger, err := newLogger(o)
	if err != nil {
		return nil, err
	}
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return nil, err
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return nil, err
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("temporal server start: %w", err)
	}
	return &Server{srv: srv, hostPort: cfg.PublicClient.HostPort, ns: o.Namespace}, nil
}

// HostPort is the frontend address for clients.
func (s *Server) HostPort() string { return s.hostPort }

// Namespace is the namespace registered at start.
func (s *Server) Namespace() string { return s.ns }

// Stop stops every service.
func (s *Server) Stop() error { return s.srv.Stop() }

func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// New search attributes are visible at once (single process).
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
		// Eager start lets a worker in the same process run the first
		// workflow task without a round trip through matching: containment
		// in milliseconds depends on it.
		dynamicconfig.EnableEagerWorkflowStart.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
		// The history service reads its transfer and timer task queues
		// at most 20 times a second per shard by default; with the one
		// shard of this server that paced every task hand-off (activity
		// done → next workflow task) at ~40-50 ms once the burst allowance
		// was spent, most of a runbook's run time (runbook bench: full
		// contain-key-breach ~390 ms → ~80 ms without the cap).
		dynamicconfig.TransferProcessorMaxPollRPS.Key(): []dynamicconfig.ConstrainedValue{{Value: 10000}},
		dynamicconfig.TimerProcessorMaxPollRPS.Key():    []dynamicconfig.ConstrainedValue{{Value: 10000}},
	}
}

func newLogger(o Options) (log.Logger, error) {
	if o.LogFile == "" {
		return log.NewNoopLogger(), nil
	}
	if err := os.MkdirAll(filepath.Dir(o.LogFile), 0o700); err != nil {
		return nil, err
	}
	return log.NewZapLogger(log.BuildZapLogger(log.Config{Level: o.LogLevel, OutputFile: o.LogFile})), nil
}

func serverConfig(o Options, sqlCfg *config.SQL) (*config.Config, error) {
	ports, err := servicePorts(o)
	if err != nil {
		return nil, err
	}
	svc := func(grpc, membership int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpc, MembershipPort: membership, BindOnIP: o.Host}}
	}
	frontend := fmt.Sprintf("%s:%d", o.Host, o.FrontendPort)
	cfg := &config.Config{}
	cfg.Global.Membership = config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: o.Host}
	cfg.Global.Metrics = &metrics.Config{Prometheus: &metrics.PrometheusConfig{
		ListenAddress: fmt.Sprintf("%s:%d", o.Host, o.MetricsPort),
		HandlerPath:   "/metrics",
	}}
	cfg.Global.PProf = config.PProf{Port: 0}
	cfg.Persistence = config.Persistence{
		DefaultStore:     sqliteplugin.PluginName,
		VisibilityStore:  sqliteplugin.PluginName,
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
	}
	cfg.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        "active",
		CurrentClusterName:       "active",
		ClusterInformation: map[string]cluster.ClusterInformation{
			"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
		},
	}
	cfg.DCRedirectionPolicy = config.DCRedirectionPolicy{Policy: "noop"}
	cfg.Services = map[string]config.Service{
		"frontend": svc(o.FrontendPort, ports[0]),
		"history":  svc(ports[1], ports[2]),
		"matching": svc(ports[3], ports[4]),
		"worker":   svc(ports[5], ports[6]),
	}
	cfg.Archival = config.Archival{
		History:    config.HistoryArchival{State: "disabled"},
		Visibility: config.VisibilityArchival{State: "disabled"},
	}
	cfg.NamespaceDefaults = config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
		History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
		Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
	}}
	cfg.PublicClient = config.PublicClient{HostPort: frontend}
	return cfg, nil
}

// freePort asks the kernel for an unused TCP port on host.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
