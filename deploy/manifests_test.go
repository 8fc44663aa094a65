package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/keyresponse/runbook/events/audit/redact"
	"github.com/keyresponse/runbook/integrations/observability"
)

// externalSecrets are the Secrets the manifests reference but never define:
// operators create them (kubectl create secret, External Secrets, sealed
// secrets). docs/operations.md lists the same names and keys.
var externalSecrets = map[string][]string{
	"runbook-nats":       {"password"},
	"runbook-event-keys": {"event-keys"},
	"runbook-vault":      {"token"},
	// TLS for Temporal (mTLS) and NATS: the files config temporal.tls and
	// nats.tls name.
	"runbook-temporal-tls": {"ca.crt", "tls.crt", "tls.key"},
	"runbook-nats-tls":     {"ca.crt"},
	// The Alertmanager bridge's bearer token (config alertmanager.token_file).
	"runbook-alertmanager": {"token"},
	// The keys every engine process requires: Temporal payload encryption
	// (RUNBOOK_PAYLOAD_KEY_FILE) and audit-record HMACs (audit.keys_file).
	"runbook-payload-keys": {"payload-keys"},
	"runbook-audit-keys":   {"audit-keys"},
	// The engine's ed25519 key (config engine_key_file): signs the
	// incidents events and fleets start.
	"runbook-engine-key": {"engine-key"},
}

// searchAttributes are the Keyword search attributes incidents carry
// (integrations/observability); the setup script must register each.
var searchAttributes = []string{
	observability.SARunbookName.GetName(), observability.SABotID.GetName(), observability.SAExchange.GetName(),
	observability.SASeverity.GetName(), observability.SAIncidentTrigger.GetName(),
}

// k8sObjects is every object of a manifest directory, decoded into its Go type.
type k8sObjects struct {
	deployments []*appsv1.Deployment
	jobs        []*batchv1.Job
	pdbs        []*policyv1.PodDisruptionBudget
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	other       []metav1.Object
	files       []string
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// decodeK8s decodes every document of every *.yaml in dir (kustomization.yaml
// aside) strictly: an unknown or misplaced field is an error, as is a kind
// this deployment does not use.
func decodeK8s(dir string) (*k8sObjects, []string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	objs := &k8sObjects{configMaps: map[string]*corev1.ConfigMap{}}
	var ps []string
	for _, f := range files {
		base := filepath.Base(f)
		if base == "kustomization.yaml" {
			continue
		}
		objs.files = append(objs.files, base)
		b, err := os.ReadFile(f)
		if err != nil {
			ps = append(ps, err.Error())
			continue
		}
		for i, doc := range docSep.Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			if err := objs.add([]byte(doc)); err != nil {
				ps = append(ps, fmt.Sprintf("%s document %d: %v", base, i+1, err))
			}
		}
	}
	return objs, ps
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func (o *k8sObjects) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	var target any
	switch tm.APIVersion + "/" + tm.Kind {
	case "apps/v1/Deployment":
		d := &appsv1.Deployment{}
		o.deployments, target = append(o.deployments, d), d
	case "batch/v1/Job":
		j := &batchv1.Job{}
		o.jobs, target = append(o.jobs, j), j
	case "policy/v1/PodDisruptionBudget":
		p := &policyv1.PodDisruptionBudget{}
		o.pdbs, target = append(o.pdbs, p), p
	case "v1/Service":
		s := &corev1.Service{}
		o.services, target = append(o.services, s), s
	case "v1/ConfigMap":
		c := &corev1.ConfigMap{}
		if err := yaml.UnmarshalStrict(doc, c); err != nil {
			return err
		}
		o.configMaps[c.Name] = c
		return nil
	case "v1/Namespace":
		target = &corev1.Namespace{}
	case "v1/ServiceAccount":
		target = &corev1.ServiceAccount{}
	case "v1/Secret":
		return fmt.Errorf("a Secret object: secret values never live in these manifests (reference %v instead)", sortedKeys(externalSecrets))
	default:
		return fmt.Errorf("unexpected kind %s/%s", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, target); err != nil {
		return err
	}
	if m, ok := target.(metav1.Object); ok {
		o.other = append(o.other, m)
	}
	return nil
}

// checkK8s decodes a manifest directory and applies the production rules.
func checkK8s(dir string) []string {
	objs, ps := decodeK8s(dir)
	add := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	for _, m := range objs.other {
		if _, isNS := m.(*corev1.Namespace); !isNS && m.GetNamespace() != "runbook" {
			add("%s: namespace %q, want runbook", m.GetName(), m.GetNamespace())
		}
	}
	for _, d := range objs.deployments {
		where := "Deployment " + d.Name
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			add("%s: selector does not match its pod template labels", where)
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
			add("%s: fewer than 2 replicas; one node drain would stop it", where)
		}
		ps = append(ps, checkPod(where, &d.Spec.Template.Spec, objs, true)...)
		if !coveredByPDB(d, objs.pdbs) {
			add("%s: no PodDisruptionBudget selects its pods", where)
		}
	}
	for _, j := range objs.jobs {
		ps = append(ps, checkPod("Job "+j.Name, &j.Spec.Template.Spec, objs, false)...)
	}
	for _, p := range objs.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil {
			add("PodDisruptionBudget %s: %v", p.Name, err)
			continue
		}
		n := 0
		for _, d := range objs.deployments {
			if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				n++
			}
		}
		if n != 1 {
			add("PodDisruptionBudget %s selects the pods of %d Deployments, want exactly 1", p.Name, n)
		}
		if p.Spec.MinAvailable == nil && p.Spec.MaxUnavailable == nil {
			add("PodDisruptionBudget %s sets neither minAvailable nor maxUnavailable", p.Name)
		}
	}
	for _, s := range objs.services {
		matched := false
		for _, d := range objs.deployments {
			if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				matched = true
				for _, sp := range s.Spec.Ports {
					if sp.TargetPort.StrVal != "" && !hasPortName(d.Spec.Template.Spec.Containers, sp.TargetPort.StrVal) {
						add("Service %s: targetPort %q is not a port of Deployment %s", s.Name, sp.TargetPort.StrVal, d.Name)
					}
				}
			}
		}
		if !matched {
			add("Service %s selects no Deployment's pods", s.Name)
		}
	}
	return ps
}

func coveredByPDB(d *appsv1.Deployment, pdbs []*policyv1.PodDisruptionBudget) bool {
	for _, p := range pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err == nil && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			return true
		}
	}
	return false
}

func hasPortName(cs []corev1.Container, name string) bool {
	for _, c := range cs {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

// checkPod holds the rules for every pod: non-root, read-only root
// filesystem, no privilege escalation, resources set, every ConfigMap and
// Secret it references known; long-running pods also need probes.
func checkPod(where string, spec *corev1.PodSpec, objs *k8sObjects, longRunning bool) []string {
	var ps []string
	add := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(where+": "+format, args...)) }
	podNonRoot := spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot
	if spec.SecurityContext == nil || spec.SecurityContext.SeccompProfile == nil {
		add("no pod seccompProfile (restricted Pod Security needs RuntimeDefault)")
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		switch {
		case v.ConfigMap != nil:
			ps = append(ps, checkConfigMapRef(where, v.ConfigMap.Name, itemsKeys(v.ConfigMap.Items), objs)...)
		case v.Secret != nil:
			ps = append(ps, checkSecretRef(where, v.Secret.SecretName, itemsKeys(v.Secret.Items))...)
		}
	}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range all {
		cw := "container " + c.Name
		sc := c.SecurityContext
		nonRoot := podNonRoot || sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot
		if !nonRoot {
			add("%s may run as root: set runAsNonRoot", cw)
		}
		if uid := runAsUser(spec, &c); uid != nil && *uid == 0 {
			add("%s runs as uid 0", cw)
		}
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			add("%s: root filesystem is writable (readOnlyRootFilesystem)", cw)
		}
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			add("%s: allowPrivilegeEscalation is not false", cw)
		}
		if sc == nil || sc.Capabilities == nil || !contains(capNames(sc.Capabilities.Drop), "ALL") {
			add("%s: capabilities not dropped (drop: [ALL])", cw)
		}
		r := c.Resources
		if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() {
			add("%s: cpu and memory requests are required", cw)
		}
		if r.Limits.Memory().IsZero() {
			add("%s: no memory limit", cw)
		}
		if strings.HasSuffix(c.Image, ":latest") && longRunning {
			add("%s: image %s is not pinned", cw, c.Image)
		}
		for _, m := range c.VolumeMounts {
			if _, ok := volumes[m.Name]; !ok {
				add("%s mounts volume %q, which the pod does not declare", cw, m.Name)
			}
			if v := volumes[m.Name]; m.SubPath != "" && v.ConfigMap != nil {
				ps = append(ps, checkConfigMapRef(where, v.ConfigMap.Name, []string{m.SubPath}, objs)...)
			}
		}
		for _, e := range c.Env {
			switch {
			case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
				ps = append(ps, checkSecretRef(where, e.ValueFrom.SecretKeyRef.Name, []string{e.ValueFrom.SecretKeyRef.Key})...)
			case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
				ps = append(ps, checkConfigMapRef(where, e.ValueFrom.ConfigMapKeyRef.Name, []string{e.ValueFrom.ConfigMapKeyRef.Key}, objs)...)
			case redact.SecretKey(e.Name) && e.Value != "":
				add("%s: %s holds a value inline; reference a Secret", cw, e.Name)
			}
		}
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef != nil {
				ps = append(ps, checkConfigMapRef(where, ef.ConfigMapRef.Name, nil, objs)...)
			}
			if ef.SecretRef != nil {
				ps = append(ps, checkSecretRef(where, ef.SecretRef.Name, nil)...)
			}
		}
	}
	if longRunning {
		for _, c := range spec.Containers {
			ps = append(ps, checkProbes(where+": container "+c.Name, &c)...)
		}
	}
	return ps
}

func runAsUser(spec *corev1.PodSpec, c *corev1.Container) *int64 {
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		return c.SecurityContext.RunAsUser
	}
	if spec.SecurityContext != nil {
		return spec.SecurityContext.RunAsUser
	}
	return nil
}

func capNames(cs []corev1.Capability) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

func itemsKeys(items []corev1.KeyToPath) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Key)
	}
	return out
}

// checkProbes: liveness on /healthz and readiness on /readyz, on a named
// container port.
func checkProbes(where string, c *corev1.Container) []string {
	var ps []string
	for _, p := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		switch {
		case p.probe == nil:
			ps = append(ps, fmt.Sprintf("%s: no %s probe", where, p.kind))
		case p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path:
			ps = append(ps, fmt.Sprintf("%s: %s probe should GET %s", where, p.kind, p.path))
		case p.probe.HTTPGet.Port.StrVal != "" && !hasPortName([]corev1.Container{*c}, p.probe.HTTPGet.Port.StrVal):
			ps = append(ps, fmt.Sprintf("%s: %s probe port %q is not a container port", where, p.kind, p.probe.HTTPGet.Port.StrVal))
		}
	}
	return ps
}

func checkConfigMapRef(where, name string, keys []string, objs *k8sObjects) []string {
	cm, ok := objs.configMaps[name]
	if !ok {
		return []string{fmt.Sprintf("%s: ConfigMap %q is referenced but not defined", where, name)}
	}
	var ps []string
	for _, k := range keys {
		if _, ok := cm.Data[k]; !ok {
			ps = append(ps, fmt.Sprintf("%s: ConfigMap %s has no key %q", where, name, k))
		}
	}
	return ps
}

func checkSecretRef(where, name string, keys []string) []string {
	known, ok := externalSecrets[name]
	if !ok {
		return []string{fmt.Sprintf("%s: Secret %q is not one of the documented Secrets %v", where, name, sortedKeys(externalSecrets))}
	}
	var ps []string
	for _, k := range keys {
		if !contains(known, k) {
			ps = append(ps, fmt.Sprintf("%s: Secret %s key %q is not documented (want one of %v)", where, name, k, known))
		}
	}
	return ps
}

func TestK8s(t *testing.T) {
	for _, p := range checkK8s("k8s") {
		t.Error(p)
	}
}

func TestK8s_Inventory(t *testing.T) {
	objs, ps := decodeK8s("k8s")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	roles := map[string]string{}
	for _, d := range objs.deployments {
		roles[d.Spec.Template.Labels["app.kubernetes.io/component"]] = strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
	}
	if roles["worker"] != "worker --consumer=false" || roles["trigger-consumer"] != "worker" {
		t.Errorf("want a pure worker Deployment and a trigger-consumer Deployment, got %v", roles)
	}
	if len(objs.pdbs) != len(objs.deployments) || len(objs.services) == 0 || len(objs.jobs) != 1 {
		t.Errorf("%d PDBs for %d Deployments, %d Services, %d Jobs", len(objs.pdbs), len(objs.deployments), len(objs.services), len(objs.jobs))
	}

	// kustomization.yaml applies every manifest file, and only existing ones.
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(mustRead(t, "k8s/kustomization.yaml"), &k); err != nil {
		t.Fatal(err)
	}
	sort.Strings(k.Resources)
	if got, want := strings.Join(k.Resources, " "), strings.Join(objs.files, " "); got != want {
		t.Errorf("kustomization resources\n %s\nwant every manifest\n %s", got, want)
	}

	// The engine config in the ConfigMap passes the engine's own checker.
	cm := objs.configMaps["runbook-config"]
	if cm == nil {
		t.Fatal("no runbook-config ConfigMap")
	}
	checkEngineConfig(t, "ConfigMap runbook-config config.yaml", []byte(cm.Data["config.yaml"]))
}

// The setup Job's ConfigMaps are copies of deploy/scripts and deploy/nats:
// one source of truth, checked byte for byte.
func TestK8s_SetupCopiesMatchTheirSources(t *testing.T) {
	objs, ps := decodeK8s("k8s")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	scripts := objs.configMaps["runbook-setup-scripts"]
	defs := objs.configMaps["runbook-nats-definitions"]
	if scripts == nil || defs == nil {
		t.Fatal("setup ConfigMaps missing")
	}
	for _, f := range []string{"temporal-setup.sh", "nats-setup.sh"} {
		if scripts.Data[f] != string(mustRead(t, "scripts/"+f)) {
			t.Errorf("ConfigMap runbook-setup-scripts %s differs from scripts/%s", f, f)
		}
	}
	want := map[string]string{}
	streams, _ := filepath.Glob("nats/streams/*.json")
	for _, f := range streams {
		want["stream-"+filepath.Base(f)] = f
	}
	consumers, _ := filepath.Glob("nats/consumers/*/*.json")
	for _, f := range consumers {
		want["consumer-"+filepath.Base(filepath.Dir(f))+"-"+filepath.Base(f)] = f
	}
	if got := sortedKeys(defs.Data); strings.Join(got, " ") != strings.Join(sortedKeys(want), " ") {
		t.Errorf("runbook-nats-definitions keys %v, want %v", got, sortedKeys(want))
	}
	for k, f := range want {
		if defs.Data[k] != string(mustRead(t, f)) {
			t.Errorf("runbook-nats-definitions %s differs from %s", k, f)
		}
	}
	job := objs.jobs[0]
	var mounted []string
	for _, v := range job.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == "runbook-nats-definitions" {
			for _, it := range v.ConfigMap.Items {
				mounted = append(mounted, it.Key)
			}
		}
	}
	sort.Strings(mounted)
	if strings.Join(mounted, " ") != strings.Join(sortedKeys(want), " ") {
		t.Errorf("the setup Job mounts %v, want every definition %v", mounted, sortedKeys(want))
	}
	for _, sa := range searchAttributes {
		if !strings.Contains(scripts.Data["temporal-setup.sh"], sa) {
			t.Errorf("temporal-setup.sh does not create search attribute %s", sa)
		}
	}
}

// docs/operations.md tells operators which Secrets to create: the same
// names and keys the manifests reference.
func TestK8s_SecretsAreDocumented(t *testing.T) {
	doc := string(mustRead(t, "../docs/operations.md"))
	for name, keys := range externalSecrets {
		if !strings.Contains(doc, name) {
			t.Errorf("docs/operations.md does not mention Secret %s", name)
		}
		for _, k := range keys {
			if !strings.Contains(doc, name+"/"+k) && !strings.Contains(doc, "--from-file="+k) && !strings.Contains(doc, "--from-literal="+k) {
				t.Errorf("docs/operations.md does not say how to create key %s of Secret %s", k, name)
			}
		}
	}
}

func TestK8s_BrokenCopyFails(t *testing.T) {
	ps := checkK8s("testdata/broken/k8s")
	for _, w := range []string{
		`unknown field "livenessProb"`,
		"no readiness probe",
		"root filesystem is writable",
		"cpu and memory requests are required",
		`ConfigMap "runbook-config-typo" is referenced but not defined`,
		`Secret "runbook-db" is not one of the documented Secrets`,
		"PodDisruptionBudget runbook-worker selects the pods of 0 Deployments",
		"a Secret object",
	} {
		if !anyContains(ps, w) {
			t.Errorf("broken manifests: no problem mentions %q; got:\n%s", w, strings.Join(ps, "\n"))
		}
	}
}
