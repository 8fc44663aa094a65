package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/audit/audittest"
)

const id = "contain-key-breach:bot-1"

func sample() []audit.Record { return audit.Chain(audittest.Trail(id)) }

func render(t *testing.T, recs []audit.Record, format string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Report(&buf, recs, format); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func mustContain(t *testing.T, doc string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(doc, w) {
			t.Errorf("report lacks %q", w)
		}
	}
}

func TestMarkdownReview(t *testing.T) {
	md := render(t, sample(), "md")
	if testing.Verbose() {
		t.Log("\n" + md)
	}
	mustContain(t, md,
		"# Post-incident review: contain-key-breach:bot-1",
		"| Status | failed (step verify_key failed) |",
		"| Time to contain | **150ms** (breach event → restrict_key (exchange.set_ip_whitelist)) |",
		"| Audit chain | intact: 28 records, chain head sha256:",
		// timeline
		"| 15 | 2026-11-27 09:01:35.000 | +1m35s | approve_rekey | approved by alice@oncall: confirmed: key was on the phished laptop |",
		// what changed on the exchange
		"| 2026-11-27 09:00:00.151 (+151ms) | binance | vmPU…Eh8A | sha256:aa41f0 | ip whitelist | ips=203.0.113.7 | restrict_key |",
		"| binance | Xk2P…U5wY | sha256:c9d2e7 | created |",
		"| binance | vmPU…Eh8A | sha256:aa41f0 | revoked |",
		// who approved what
		"| approve_rekey | oncall | granted | alice@oncall | confirmed: key was on the phished laptop |",
		// notifications
		"| sms | +491…5678 | SM5f1e | notify_oncall |",
		// steps
		"| cancel_orders | exchange.cancel_orders | succeeded | 2 |",
		// follow-ups
		"- [ ] Step verify_key (exchange.verify_key) failed after 1 attempt(s): new key rejected from 203.0.113.7",
		"- [ ] Step unfreeze_bot was skipped (verify_key did not succeed)",
	)
	if strings.Contains(md, "never contained") || strings.Contains(md, "not closed") {
		t.Error("follow-ups claim the contained, closed incident is not")
	}
}

func TestMarkdownFollowUpsForAnOpenIncident(t *testing.T) {
	recs := audit.Chain([]audit.Record{
		audit.Opened("rotate-keys:bot-2", audit.OpenedFacts{Runbook: "rotate-keys", Trigger: "manual", StartedBy: "bob"}),
		audit.ApprovalAskedFact("rotate-keys:bot-2", "go", "oncall", "rotate | now?"),
	})
	md := render(t, recs, "md")
	mustContain(t, md,
		"| Time to contain | not contained |",
		"- [ ] The breach was never contained",
		"- [ ] The incident is not closed (status waiting-approval)",
		"- [ ] Approval go for oncall is still open",
		`rotate \| now?`, // a pipe in the data does not break the table
	)
}

func TestReportShowsABrokenChain(t *testing.T) {
	recs := sample()
	recs = append(recs[:5], recs[6:]...) // a record removed
	md := render(t, recs, "md")
	mustContain(t, md, "- [ ] Audit chain verification failed: audit chain of contain-key-breach:bot-1 broken at record #6 (position 6): removed")
	html := render(t, recs, "html")
	mustContain(t, html, `id="integrity">BROKEN<`)
}

func TestUnknownFormat(t *testing.T) {
	if err := Report(&bytes.Buffer{}, sample(), "pdf"); err == nil {
		t.Fatal("pdf accepted")
	}
	if err := Report(&bytes.Buffer{}, nil, "md"); err == nil {
		t.Fatal("empty trail rendered")
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	html := render(t, sample(), "html")
	for _, bad := range []string{"<script", "src=", "href=", "@import", "url("} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML report references outside content: %q", bad)
		}
	}
	// Data is escaped, not interpreted.
	recs := audit.Chain([]audit.Record{
		audit.Opened("x:bot-3", audit.OpenedFacts{Runbook: "r", Trigger: "manual", StartedBy: `<img src=x onerror=alert(1)>`}),
	})
	if out := render(t, recs, "html"); strings.Contains(out, "<img") {
		t.Error("actor was not escaped")
	}
}

// chromium finds a headless Chromium, or skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH: install it (Debian: apt-get install -y chromium) to check the HTML report in a real browser")
	return ""
}

func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// TestHTMLReviewInHeadlessChromium renders the report, loads it in a real
// browser and checks the DOM the browser built: the SVG timeline with its
// lanes and containment line, and the key facts of the review. It also
// takes a screenshot (kept in REPORT_SCREENSHOT_DIR when set) for a human look.
func TestHTMLReviewInHeadlessChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "review.html")
	if err := os.WriteFile(file, []byte(render(t, sample(), "html")), 0o600); err != nil {
		t.Fatal(err)
	}
	dom := string(runChromium(t, bin, "--dump-dom", "file://"+file))
	mustContain(t, dom,
		`<svg id="timeline"`,
		`data-label="restrict_key"`, `data-label="approval approve_rekey"`, `data-label="exchange keys"`,
		`class="vl-contained"`, ">contained 150ms</text>",
		`id="ttc">150ms<`, `id="status">failed<`, `id="integrity">intact<`,
		"<b>alice@oncall</b>", "vmPU…Eh8A", "<b>revoked</b>", "+491…5678",
		"Step verify_key (exchange.verify_key) failed after 1 attempt(s)",
	)
	if n := strings.Count(dom, `class="bar `); n < 9 {
		t.Errorf("SVG has %d bars, want one per finished step and the incident (≥9)", n)
	}

	shotDir := os.Getenv("REPORT_SCREENSHOT_DIR")
	if shotDir == "" {
		shotDir = dir
	}
	shot := filepath.Join(shotDir, "review.png")
	runChromium(t, bin, "--screenshot="+shot, "--window-size=1040,1500", "--hide-scrollbars", "file://"+file)
	png, err := os.ReadFile(shot)
	if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot %s: %v (%d bytes)", shot, err, len(png))
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}

func TestReviewCoversTheLatestOccurrence(t *testing.T) {
	var recs []audit.Record
	for _, run := range []string{"run-1", "run-2"} {
		for _, r := range audittest.Trail(id) {
			r.Run = run
			recs = append(recs, r)
		}
	}
	recs = audit.Chain(recs)
	md := render(t, recs, "md")
	mustContain(t, md,
		"| Occurrence | latest of 2 with this id (run run-2); `runbook audit` shows all |",
		"| Audit chain | intact: 56 records,",
		"| Evidence events | 3 |",
	)
}

func TestFollowUpForAFailedCompensation(t *testing.T) {
	const inc = "contain-key-breach:bot-4"
	recs := audit.Chain([]audit.Record{
		audit.Opened(inc, audit.OpenedFacts{Runbook: "contain-key-breach", Trigger: "manual"}),
		audit.StepFact(inc, "freeze_bot", audit.StepSucceeded, 1, false, map[string]string{"action": "bot.freeze"}),
		audit.StepFact(inc, "freeze_bot", audit.StepFailed, 1, true, map[string]string{"action": "bot.unfreeze", "error": "bot unreachable"}),
		audit.Closed(inc, "failed", "step create_key failed"),
	})
	mustContain(t, render(t, recs, "md"),
		"- [ ] The compensation of step freeze_bot (bot.freeze) failed: bot unreachable — undo it by hand.",
		"| Time to contain | **", "(from the opening: no event time)")
}

// Given an incident started and approved by verified operators and an
// attempt that was refused, the review names who (with key fingerprint
// and factor) and lists the refusal with its reason.
func TestReviewShowsVerifiedIdentitiesAndRefusals(t *testing.T) {
	const inc = "unfreeze:bot-1"
	opened := audit.Opened(inc, audit.OpenedFacts{Runbook: "unfreeze", Trigger: "manual", StartedBy: "alice"})
	opened.Attrs["started_by_verified"] = "alice (SHA256:aaa)"
	granted := audit.ApprovalDecided(inc, "go", "alice, bob", "", true)
	granted.Attrs["verified"] = "alice (SHA256:aaa, totp), bob (SHA256:bbb, totp)"
	refused := audit.Record{IncidentID: inc, Kind: audit.AuthzRefused, Step: "go", Actor: "mallory", Key: "authz/refused/approve/1",
		Attrs: map[string]string{"verb": "approve", "operator": "mallory", "reason": `"mallory" is not in the roster`}}
	recs := audit.Chain([]audit.Record{opened, audit.ApprovalAskedFact(inc, "go", "oncall", "unfreeze?"), refused, granted})
	md := render(t, recs, "md")
	mustContain(t, md,
		"started by alice (SHA256:aaa)",
		"| go | oncall | granted | alice (SHA256:aaa, totp), bob (SHA256:bbb, totp) |",
		"## Refused attempts",
		`| approve | mallory | go | "mallory" is not in the roster |`,
		"REFUSED approve by mallory",
		"1 attempt(s) were refused",
	)
	html := render(t, recs, "html")
	mustContain(t, html, "alice (SHA256:aaa, totp), bob (SHA256:bbb, totp)", `id="refusals"`, "mallory")
}
