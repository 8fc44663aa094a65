package deploy

import (
	"net"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/keyresponse/runbook/cmd/runbook/config"
)

// The Alertmanager bridge signs breach events with the engine's key: in
// Kubernetes it has its own port and Service, authenticated by a token from
// a Secret; the metrics Service (which Prometheus scrapes, and which used to
// share the bridge's listener) does not reach it.
func TestK8s_AlertmanagerBridgeHasItsOwnPortAndToken(t *testing.T) {
	objs, ps := decodeK8s("k8s")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	cfg, err := config.Parse("runbook-config", []byte(objs.configMaps["runbook-config"].Data["config.yaml"]))
	if err != nil {
		t.Fatal(err)
	}
	am := cfg.Alertmanager
	if !am.Served() || am.TokenFile == "" {
		t.Fatalf("the ConfigMap's bridge is not authenticated by a token file: %+v", am)
	}
	_, amPort, _ := net.SplitHostPort(am.ListenAddr())
	_, metricsPort, _ := net.SplitHostPort(cfg.Metrics.Addr)
	if amPort == metricsPort {
		t.Fatalf("bridge and metrics share port %s", amPort)
	}

	var bridge, metrics *corev1.Service
	for _, s := range objs.services {
		switch s.Name {
		case "runbook-alertmanager":
			bridge = s
		case "runbook-metrics":
			metrics = s
		}
	}
	if bridge == nil || metrics == nil {
		t.Fatal("want Services runbook-alertmanager and runbook-metrics")
	}
	for _, p := range metrics.Spec.Ports {
		if p.TargetPort.StrVal == "alertmanager" || strconv.Itoa(int(p.Port)) == amPort || p.TargetPort.IntValue() == mustAtoi(t, amPort) {
			t.Errorf("the metrics Service exposes the bridge's port: %+v", p)
		}
	}
	served := 0
	for _, d := range objs.deployments {
		if !labels.SelectorFromSet(bridge.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		served++
		if strings.Contains(strings.Join(d.Spec.Template.Spec.Containers[0].Args, " "), "--consumer=false") {
			t.Errorf("Service runbook-alertmanager selects Deployment %s, which runs no trigger consumer (no bridge)", d.Name)
		}
		c := d.Spec.Template.Spec.Containers[0]
		port := 0
		for _, p := range c.Ports {
			if p.Name == "alertmanager" {
				port = int(p.ContainerPort)
			}
		}
		if strconv.Itoa(port) != amPort {
			t.Errorf("Deployment %s: container port alertmanager %d, config alertmanager.addr port %s", d.Name, port, amPort)
		}
		if !mountsSecretAt(d.Spec.Template.Spec, c, "runbook-alertmanager", am.TokenFile) {
			t.Errorf("Deployment %s does not mount Secret runbook-alertmanager where alertmanager.token_file (%s) points", d.Name, am.TokenFile)
		}
	}
	if served == 0 {
		t.Error("Service runbook-alertmanager selects no Deployment")
	}
}

func mountsSecretAt(pod corev1.PodSpec, c corev1.Container, secret, file string) bool {
	for _, v := range pod.Volumes {
		if v.Secret == nil || v.Secret.SecretName != secret {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.Name == v.Name && strings.HasPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/") {
				return true
			}
		}
	}
	return false
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
