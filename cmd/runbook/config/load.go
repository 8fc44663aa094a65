package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// UnmarshalYAML parses "5m"-style durations.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 30s, 5m, 1h)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Load reads a config file strictly (unknown fields are errors, with their
// line) and applies the environment overrides.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(path, src)
	if err != nil {
		return nil, err
	}
	c.ApplyEnv(os.Getenv)
	return c, nil
}

// Parse decodes one YAML document strictly.
func Parse(file string, src []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return &c, nil
}

// ApplyEnv lets the environment override the file: RUNBOOK_HOME,
// RUNBOOK_TEMPORAL_ADDRESS, RUNBOOK_NAMESPACE, RUNBOOK_TASK_QUEUE,
// RUNBOOK_NATS_URL, RUNBOOK_NATS_CREDS, RUNBOOK_NATS_NKEY, RUNBOOK_NATS_USER,
// RUNBOOK_NATS_TOKEN (see applyNATSAuthEnv), RUNBOOK_EVENT_KEYS_FILE,
// RUNBOOK_MAX_AUTO_INCIDENTS, RUNBOOK_METRICS_ADDR, RUNBOOK_HTTP_ALLOWED_HOSTS
// and RUNBOOK_ALLOW_INSECURE (comma-separated), RUNBOOK_PATH (':'-separated).
func (c *Config) ApplyEnv(getenv func(string) string) {
	set := func(dst *string, key string) {
		if v := getenv(key); v != "" {
			*dst = v
		}
	}
	set(&c.Home, "RUNBOOK_HOME")
	set(&c.Temporal.Address, "RUNBOOK_TEMPORAL_ADDRESS")
	set(&c.Temporal.Namespace, "RUNBOOK_NAMESPACE")
	set(&c.Temporal.TaskQueue, "RUNBOOK_TASK_QUEUE")
	set(&c.NATS.URL, "RUNBOOK_NATS_URL")
	c.applyNATSAuthEnv(getenv)
	set(&c.Events.KeysFile, "RUNBOOK_EVENT_KEYS_FILE")
	set(&c.Audit.KeysFile, "RUNBOOK_AUDIT_KEYS_FILE")
	set(&c.Audit.SigningKeyID, "RUNBOOK_AUDIT_KEY_ID")
	set(&c.Metrics.Addr, "RUNBOOK_METRICS_ADDR")
	if v := getenv("RUNBOOK_MAX_AUTO_INCIDENTS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			c.Limits.Global = n
		}
	}
	if v := getenv("RUNBOOK_HTTP_ALLOWED_HOSTS"); v != "" {
		c.HTTP.AllowedHosts = splitList(v, ",")
	}
	if v := getenv("RUNBOOK_ALLOW_INSECURE"); v != "" {
		c.AllowInsecure = splitList(v, ",")
	}
	if v := getenv("RUNBOOK_PATH"); v != "" {
		c.Runbooks.Dirs = append(c.Runbooks.Dirs, splitList(v, ":")...)
	}
}

// applyNATSAuthEnv: a NATS credential in the environment replaces the
// file's method as a whole (not field by field: a file's creds_file plus
// the environment's user would be two methods, which the client refuses).
// Secret values stay in the environment; the config records only the names
// of the variables holding them (RUNBOOK_NATS_PASSWORD, RUNBOOK_NATS_TOKEN).
func (c *Config) applyNATSAuthEnv(getenv func(string) string) {
	creds, nkey, user, token := getenv("RUNBOOK_NATS_CREDS"), getenv("RUNBOOK_NATS_NKEY"), getenv("RUNBOOK_NATS_USER"), getenv("RUNBOOK_NATS_TOKEN")
	if creds == "" && nkey == "" && user == "" && token == "" {
		return
	}
	c.NATS.CredsFile, c.NATS.NKeyFile, c.NATS.User, c.NATS.PasswordEnv, c.NATS.TokenEnv = creds, nkey, user, "", ""
	if user != "" {
		c.NATS.PasswordEnv = "RUNBOOK_NATS_PASSWORD"
	}
	if token != "" {
		c.NATS.TokenEnv = "RUNBOOK_NATS_TOKEN"
	}
}

func splitList(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
