package runbooks

import (
	"bytes"
	"strings"
	"testing"
)

const schemaHeader = "# yaml-language-server: $schema=../schema/runbook.schema.json\n"

// Every shipped runbook must pass the schema and the reference checks,
// point editors at the schema, and be named after its file. Action names
// and params are checked against the engine's real registry in
// cmd/runbook (TestShippedRunbooksValidateAgainstRegistry): this package
// cannot import the actions.
func TestShippedRunbooksValidate(t *testing.T) {
	shipped := Shipped()
	names := map[string]bool{}
	for _, s := range shipped {
		names[s.Name] = true
	}
	for _, want := range []string{"demo-approval", "demo-http-retry"} {
		if !names[want] {
			t.Errorf("%s is not shipped (have %v)", want, names)
		}
	}
	for _, s := range shipped {
		t.Run(s.Name, func(t *testing.T) {
			if !bytes.HasPrefix(s.Src, []byte(schemaHeader)) {
				t.Errorf("%s does not start with %q", s.File, schemaHeader)
			}
			if ps := Validate(s.File, s.Src, nil); len(ps) > 0 {
				t.Fatalf("%s is invalid:\n%s", s.File, Problems(ps).Error())
			}
			rb, _, err := Parse(s.File, s.Src)
			if err != nil {
				t.Fatal(err)
			}
			if rb.Name != s.Name {
				t.Errorf("%s defines runbook %q; the file must be named after it", s.File, rb.Name)
			}
		})
	}
}

func TestShippedDemoHTTPRetry(t *testing.T) {
	sh, ok := FindShipped("demo-http-retry")
	if !ok {
		t.Fatal("demo-http-retry not shipped")
	}
	rb, _, err := Parse(sh.File, sh.Src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveInputs(rb, nil); err == nil || !strings.Contains(err.Error(), "url") {
		t.Errorf("url must be required, got %v", err)
	}
	inputs, err := ResolveInputs(rb, map[string]string{"url": "http://127.0.0.1:8080/health"})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := Plan(rb, genericCatalog(), inputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	fetch := steps[0]
	if fetch.Action != "http.request" || fetch.Retry == nil || fetch.Retry.MaxAttempts != 3 ||
		fetch.Retry.InitialInterval.String() != "100ms" || fetch.Params["url"] != "http://127.0.0.1:8080/health" {
		t.Errorf("fetch = %+v", fetch)
	}
	if steps[1].Params["message"] != "GET http://127.0.0.1:8080/health answered <steps.fetch.outputs.status>" {
		t.Errorf("report message = %v", steps[1].Params["message"])
	}
	if _, ok := FindShipped("no-such-runbook"); ok {
		t.Error("FindShipped found a runbook that does not exist")
	}
}

// The embedded schema is the file editors read, and it compiles.
func TestSchemaCompiles(t *testing.T) {
	if _, err := Schema(); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"on_failure", "on_timeout", "max_attempts", "parallel", "approval", "compensate"} {
		if !bytes.Contains(SchemaJSON, []byte(`"`+field+`"`)) {
			t.Errorf("schema does not describe %s", field)
		}
	}
}
