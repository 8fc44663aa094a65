package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/keyresponse/runbook/events/natsauth"
	"github.com/keyresponse/runbook/workflows"
)

// TestMain lets the test binary act as the runbook binary: with
// RUNBOOK_E2E_CHILD set it runs the CLI with the args in RUNBOOK_E2E_ARGS.
// The restart test kills such a child with SIGKILL, which an in-process
// server could not survive.
func TestMain(m *testing.M) {
	if os.Getenv("RUNBOOK_E2E_CHILD") == "1" {
		ctx, stop := signalContext()
		code := run(ctx, strings.Split(os.Getenv("RUNBOOK_E2E_ARGS"), "\x1f"), os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// cliResult is one CLI invocation's outcome.
type cliResult struct {
	code   int
	stdout string
	stderr string
}

// cli runs the runbook CLI in-process against the given home and Temporal.
type cli struct {
	t        *testing.T
	home     string
	temporal string
}

func (c cli) run(args ...string) cliResult {
	c.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--home", c.home, "--temporal-address", c.temporal}, args...)
	code := run(context.Background(), full, &out, &errb)
	return cliResult{code: code, stdout: out.String(), stderr: errb.String()}
}

// state runs `status ID --output json`.
func (c cli) state(id string) (workflows.IncidentState, error) {
	r := c.run("status", id, "--output", "json")
	var st workflows.IncidentState
	if r.code != 0 {
		return st, fmt.Errorf("status exit %d: %s", r.code, r.stderr)
	}
	return st, json.Unmarshal([]byte(r.stdout), &st)
}

// waitFor polls the incident until cond holds or the deadline passes.
func (c cli) waitFor(id string, what string, cond func(workflows.IncidentState) bool) workflows.IncidentState {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last workflows.IncidentState
	var lastErr error
	for time.Now().Before(deadline) {
		st, err := c.state(id)
		if err == nil && cond(st) {
			return st
		}
		last, lastErr = st, err
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("incident %s: timed out waiting for %s; last state: %s err %v", id, what, summary(last), lastErr)
	return last
}

func stepByID(st workflows.IncidentState, id string) workflows.StepState {
	for _, s := range st.Steps {
		if s.ID == id {
			return s
		}
	}
	return workflows.StepState{}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// devProcess is `runbook dev` running as a child process.
type devProcess struct {
	cmd *exec.Cmd
	out *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startDevProcess starts `runbook dev` in a child and waits until it has
// written its endpoints file.
func startDevProcess(t *testing.T, home string, temporalPort, natsPort int, env ...string) *devProcess {
	t.Helper()
	args := []string{"dev", "--home", home, "--temporal-port", fmt.Sprint(temporalPort), "--nats-port", fmt.Sprint(natsPort),
		"--exchangesim-port", "0", "--demo-bot-port", "0", "--http-port", "0", "--alertmanager-port", "0", "--ui-port", "-1"}
	// A SIGKILLed dev leaves its endpoints file behind; wait for a fresh one.
	_ = os.Remove(filepath.Join(home, "dev.json"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, "RUNBOOK_E2E_CHILD=1", "RUNBOOK_E2E_ARGS="+strings.Join(args, "\x1f"))...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &devProcess{cmd: cmd, out: out}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(home, "dev.json")); err == nil {
			return p
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("runbook dev did not come up:\n%s", out.String())
	return nil
}

// kill sends SIGKILL: no deferred cleanup runs, as in a crash.
func (p *devProcess) kill() {
	if p.cmd.Process != nil && p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

// summary is a short line for failure messages (a whole state can hold
// thousands of evidence entries).
func summary(st workflows.IncidentState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status=%s error=%q evidence=%d+%d dropped steps:", st.Status, st.Error, len(st.Evidence), st.EvidenceDropped)
	for _, s := range st.Steps {
		fmt.Fprintf(&b, " %s=%s", s.ID, s.Status)
		if s.Error != "" {
			fmt.Fprintf(&b, "(%s)", s.Error)
		}
	}
	return b.String()
}

// startDemoStack runs `runbook dev`'s stack in the test process on a fresh
// home (demo bot, exchange simulator, SMS sink), stopped when the test
// ends, and a CLI pointed at it.
func startDemoStack(t *testing.T) (*devStack, cli) {
	t.Helper()
	home := t.TempDir()
	stack, err := startDevStack(context.Background(), devOptions{home: home, taskQueue: "runbook", console: os.Stderr, identity: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.stop)
	return stack, cli{t: t, home: home, temporal: stack.temporal.HostPort()}
}

// devNATSUser is the nats.Option that authenticates as role's user of the
// dev engine whose home is home.
func devNATSUser(t *testing.T, home string, role natsauth.Role) nats.Option {
	t.Helper()
	opt, err := nats.NkeyOptionFromSeed(natsauth.SeedFile(devNATSUsersDir(home), role))
	if err != nil {
		t.Fatalf("dev NATS %s user: %v", role, err)
	}
	return opt
}
