// Package deploy holds the production deployment of the runbook engine and
// the tests that keep it honest. No Docker engine or cluster runs in CI, so
// every manifest is parsed with the Go types of the system that reads it
// and checked against the rules in docs/operations.md:
//
//   - Dockerfile: a multi-stage, static (CGO_ENABLED=0) build whose final
//     stage runs as a non-root user (dockerfile_test.go);
//   - compose/compose.yaml: the compose file's structure, references and
//     the absence of inline secrets (compose_test.go);
//   - compose/nats/*.conf: parsed by nats-server's own config parser and
//     loaded into server options: cluster routes, JetStream file store,
//     sync_interval always (natsconf_test.go);
//   - k8s/*.yaml: each object decoded strictly into its k8s.io/api type,
//     then probes, non-root, resources, PDB selectors and ConfigMap/Secret
//     references checked (manifests_test.go);
//   - nats/streams, nats/consumers: the JetStream definitions compared
//     field by field with what the code creates (streams_test.go).
//
// Each checker also runs on a deliberately broken copy under testdata/ and
// must report it.
package deploy
