package deploy

import (
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/integrations/observability"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// The stream alerts are well-formed, every metric they query is one the
// engine exports (a renamed metric would leave an alert that never fires),
// and the full-stream and discard cases both have one.
func TestAlertRules_QueryExportedMetrics(t *testing.T) {
	var rf ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(mustRead(t, "prometheus/alerts.yaml"))))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("prometheus/alerts.yaml: %v", err)
	}
	exported := map[string]bool{}
	ch := make(chan *prometheus.Desc, 64)
	observability.StreamCollector(func() []ingest.StreamUsage { return nil }, func() uint64 { return 0 }).Describe(ch)
	close(ch)
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			exported[m[1]] = true
		}
	}
	if len(exported) < 8 {
		t.Fatalf("read %d metric names from StreamCollector, want 8", len(exported))
	}
	metricRef := regexp.MustCompile(`\brunbook_[a-z_]+`)
	alerts := map[string]string{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" {
				t.Errorf("group %s: rule %q needs alert, expr and a summary", g.Name, r.Alert)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			for _, m := range metricRef.FindAllString(r.Expr, -1) {
				if !exported[m] {
					t.Errorf("%s queries %s, which the engine does not export", r.Alert, m)
				}
			}
			alerts[r.Alert] = r.Expr
		}
	}
	for _, want := range []string{"RunbookBreachStreamFull", "RunbookBreachPublishRefused", "RunbookDeadLettersDiscarded"} {
		if alerts[want] == "" {
			t.Errorf("no alert %s", want)
		}
	}
}
