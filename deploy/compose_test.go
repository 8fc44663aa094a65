package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/keyresponse/runbook/cmd/runbook/config"
	"github.com/keyresponse/runbook/events/audit/redact"
)

// composeFile is the part of the Compose specification our file uses.
// Decoding is strict: a misspelt key (dependson, enviroment) fails instead
// of being ignored by the test and then by `docker compose`.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]*struct{}      `yaml:"volumes"`
	Secrets  map[string]composeSecret  `yaml:"secrets"`
	// Extension fields (x-…) hold the anchors services merge in.
	Extensions map[string]any `yaml:",inline"`
}

type composeService struct {
	Image       string                  `yaml:"image"`
	Build       *composeBuild           `yaml:"build"`
	Command     []string                `yaml:"command"`
	Entrypoint  []string                `yaml:"entrypoint"`
	Environment map[string]string       `yaml:"environment"`
	DependsOn   map[string]composeDepOn `yaml:"depends_on"`
	Volumes     []string                `yaml:"volumes"`
	Ports       []string                `yaml:"ports"`
	Secrets     []string                `yaml:"secrets"`
	Restart     string                  `yaml:"restart"`
	Healthcheck *composeHealthcheck     `yaml:"healthcheck"`
	ReadOnly    bool                    `yaml:"read_only"`
	User        string                  `yaml:"user"`
	CapDrop     []string                `yaml:"cap_drop"`
	SecurityOpt []string                `yaml:"security_opt"`
	Deploy      *struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

type composeDepOn struct {
	Condition string `yaml:"condition"`
}

type composeHealthcheck struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval"`
	Timeout     string   `yaml:"timeout"`
	Retries     int      `yaml:"retries"`
	StartPeriod string   `yaml:"start_period"`
}

type composeSecret struct {
	File string `yaml:"file"`
}

func loadCompose(path string) (*composeFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c composeFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

// interpolation is a compose variable reference that must be set: ${VAR:?msg}.
var requiredVar = regexp.MustCompile(`^\$\{[A-Z0-9_]+:\?[^}]*\}$`)

var dependConditions = map[string]bool{"": true, "service_started": true, "service_healthy": true, "service_completed_successfully": true}

// checkCompose returns what is wrong with a compose file. dir is where
// relative paths in it are resolved (the file's directory).
func checkCompose(path string) []string {
	c, err := loadCompose(path)
	if err != nil {
		return []string{"decode: " + err.Error()}
	}
	dir := filepath.Dir(path)
	var ps []string
	add := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	for k := range c.Extensions {
		if !strings.HasPrefix(k, "x-") {
			add("unknown top-level key %q", k)
		}
	}
	if len(c.Services) == 0 {
		add("no services")
	}
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if s.Image == "" && s.Build == nil {
			add("service %s: neither image nor build", name)
		}
		if s.Build != nil {
			df := filepath.Join(dir, s.Build.Context, s.Build.Dockerfile)
			if _, err := os.Stat(df); err != nil {
				add("service %s: build dockerfile %s: %v", name, df, err)
			}
		}
		for dep, d := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				add("service %s depends on %q, which is not a service", name, dep)
			}
			if !dependConditions[d.Condition] {
				add("service %s: depends_on %s condition %q is not a compose condition", name, dep, d.Condition)
			}
			if d.Condition == "service_healthy" && c.Services[dep].Healthcheck == nil {
				add("service %s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
			}
		}
		for _, v := range s.Volumes {
			src, _, ok := strings.Cut(v, ":")
			if !ok {
				add("service %s: volume %q has no target", name, v)
				continue
			}
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(filepath.Join(dir, src)); err != nil {
					add("service %s: bind mount source %s does not exist", name, src)
				}
				continue
			}
			if _, ok := c.Volumes[src]; !ok {
				add("service %s uses volume %q, which is not declared under volumes:", name, src)
			}
		}
		for _, sec := range s.Secrets {
			if _, ok := c.Secrets[sec]; !ok {
				add("service %s uses secret %q, which is not declared under secrets:", name, sec)
			}
		}
		for _, k := range sortedKeys(s.Environment) {
			v := s.Environment[k]
			if redact.SecretKey(k) && !requiredVar.MatchString(v) {
				add("service %s: %s holds a value inline; use ${VAR:?...} from .env or a secret file", name, k)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				add("service %s publishes %s on every interface; bind it to 127.0.0.1", name, p)
			}
		}
	}
	for name, s := range c.Secrets {
		if s.File == "" {
			add("secret %s: no file", name)
			continue
		}
		if _, err := os.Stat(filepath.Dir(filepath.Join(dir, s.File))); err != nil {
			add("secret %s: directory of %s does not exist", name, s.File)
		}
	}
	return ps
}

func TestCompose(t *testing.T) {
	for _, p := range checkCompose("compose/compose.yaml") {
		t.Error("compose.yaml:", p)
	}
}

// The topology the issue asks for: Temporal on PostgreSQL, three NATS
// nodes, at least two pure workers, one worker with the trigger consumer,
// and one-shot setup jobs the workers wait for.
func TestCompose_Topology(t *testing.T) {
	c, err := loadCompose("compose/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	imageOf := func(name string) string { return c.Services[name].Image }
	if !strings.HasPrefix(imageOf("postgresql"), "postgres:") {
		t.Errorf("postgresql image %q", imageOf("postgresql"))
	}
	if !strings.HasPrefix(imageOf("temporal"), "temporalio/server:") {
		t.Errorf("temporal image %q", imageOf("temporal"))
	}
	if got := c.Services["temporal"].Environment["DB"]; got != "postgres12" {
		t.Errorf("temporal DB = %q, want postgres12", got)
	}
	for _, n := range []string{"nats-1", "nats-2", "nats-3"} {
		s, ok := c.Services[n]
		if !ok || !strings.HasPrefix(s.Image, "nats:") {
			t.Errorf("NATS node %s missing or not a nats image", n)
			continue
		}
		if !strings.Contains(strings.Join(s.Volumes, " "), "./nats/"+n+".conf") {
			t.Errorf("%s does not mount its config ./nats/%s.conf", n, n)
		}
	}
	pure, withConsumer := 0, 0
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if len(s.Command) == 0 || s.Command[0] != "worker" {
			continue
		}
		n := 1
		if s.Deploy != nil && s.Deploy.Replicas > 0 {
			n = s.Deploy.Replicas
		}
		if contains(s.Command, "--consumer=false") {
			pure += n
		} else {
			withConsumer += n
		}
		for _, job := range []string{"temporal-setup", "nats-setup"} {
			if s.DependsOn[job].Condition != "service_completed_successfully" {
				t.Errorf("%s starts before the one-shot %s has completed", name, job)
			}
		}
		if !s.ReadOnly || s.User == "" || strings.HasPrefix(s.User, "0") {
			t.Errorf("%s: want read_only and a non-root user, got read_only=%v user=%q", name, s.ReadOnly, s.User)
		}
		if s.Environment["RUNBOOK_CONFIG"] == "" {
			t.Errorf("%s: RUNBOOK_CONFIG not set", name)
		}
	}
	if pure < 2 || withConsumer < 1 {
		t.Errorf("%d pure workers and %d with the trigger consumer, want ≥2 and ≥1", pure, withConsumer)
	}
	if !strings.Contains(strings.Join(c.Services["nats-setup"].Volumes, " "), "../nats:/defs") {
		t.Error("nats-setup does not mount the stream definitions of deploy/nats")
	}
}

// The engine config the compose stack mounts is valid for the engine's own
// config loader and checker.
func TestCompose_EngineConfig(t *testing.T) {
	checkEngineConfig(t, "compose/runbook/config.yaml", mustRead(t, "compose/runbook/config.yaml"))
}

func checkEngineConfig(t *testing.T, name string, src []byte) {
	t.Helper()
	c, err := config.Parse(name, src)
	if err != nil {
		t.Fatal(err)
	}
	// Unsafe too: a shipped config must start a worker, which refuses
	// what config check calls unsafe.
	for _, p := range append(c.Check(), c.Unsafe()...) {
		t.Errorf("%s: %s", name, p)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCompose_BrokenCopyFails(t *testing.T) {
	ps := checkCompose("testdata/broken/compose/compose.yaml")
	sort.Strings(ps)
	for _, w := range []string{
		`depends on "temporal-typo"`,
		`POSTGRES_PASSWORD holds a value inline`,
		`volume "nats-9-data", which is not declared`,
		`publishes 4222:4222 on every interface`,
	} {
		if !anyContains(ps, w) {
			t.Errorf("broken compose: no problem mentions %q; got:\n%s", w, strings.Join(ps, "\n"))
		}
	}
	if ps := checkCompose("testdata/broken/compose/misspelt.yaml"); !anyContains(ps, "dependson") {
		t.Errorf("a misspelt key was accepted: %q", ps)
	}
}
