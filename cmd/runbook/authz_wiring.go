package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/worker"
	"golang.org/x/crypto/ssh"

	"github.com/keyresponse/runbook/cmd/runbook/config"
	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/ingest/temporalstart"
	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

// Who may act, as the worker knows it. The engine is wired twice (worker.go,
// devstack.go); both build their authorization here, with buildAuthz:
//
//   - the roster (config operators:, plus in dev the local operator this
//     file provisions), roles:, authz.max_age;
//   - Registered: the content hash of every shipped runbook and every file
//     of the configured runbook directories (parseRunbook's hash, the one
//     `runbook exec` signs);
//   - EngineKeys: the engine key's public half; the engine key signs the
//     starts of event and fleet incidents (temporalstart.Signer);
//   - Secrets: each operator's TOTP secret (totp_file) and the SMS code key.
//
// SIGHUP re-reads the config file and swaps the policy (authz.Live.Set); a
// refusal is written to the incident's audit trail (refusalAudit).

// authzSource says where a worker's authorization comes from.
type authzSource struct {
	// file is the config file re-read on SIGHUP ("" = none: a reload
	// re-scans the runbook directories only).
	file string
	cfg  *config.Config
	home string
	// dev provisions the local operator and the engine key in home (runbook
	// dev): the roster is that operator, merged with the file's operators.
	dev bool
	// dirs are the runbook directories whose files are registered.
	dirs []string
	// books, when set, are registered too: the runbooks the trigger
	// consumer and incident.start_many start from (the worker's are the
	// shipped ones and dirs; a test's dev stack passes its own).
	books func() []ingest.LoadedRunbook
	// smsCodeKey is the SMS approval-code key (sms.go smsCommon's).
	smsCodeKey []byte
	// needEngineKey refuses a worker without an engine key (the trigger
	// consumer runs: its starts must be signed).
	needEngineKey bool
	logger        *slog.Logger
}

// authzRuntime is the worker's live authorization.
type authzRuntime struct {
	live *authz.Live
	// engine is the engine's key (nil: this worker signs no starts).
	engine ssh.Signer
	// devOp is the local operator runbook dev provisioned (dev only).
	devOp *devOperator
	src   authzSource
	// refusals writes Live.OnRefusal to the audit trail (auditRefusals).
	refusals *refusalAudit
}

// devOperator is the operator `runbook dev` provisions for the local user.
type devOperator struct {
	op      authz.Operator
	keyFile string
	totp    []byte
}

// buildAuthz loads (dev: first provisions) the engine key, compiles the
// policy and returns it live. Used by both `runbook worker` and
// `runbook dev`.
func buildAuthz(src authzSource) (*authzRuntime, error) {
	if src.logger == nil {
		src.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rt := &authzRuntime{live: &authz.Live{}, src: src}
	if os.Getenv("RUNBOOK_APPROVERS") != "" {
		// The name list is gone; saying so beats silently ignoring it.
		src.logger.Warn("RUNBOOK_APPROVERS is no longer read: who may approve is the config's operators and roles (docs/security.md)")
	}
	var err error
	if src.dev {
		if rt.devOp, err = provisionDevOperator(src.home); err != nil {
			return nil, fmt.Errorf("dev operator: %w", err)
		}
		if rt.engine, err = provisionEngineKey(devEngineKey(src.home)); err != nil {
			return nil, fmt.Errorf("engine key: %w", err)
		}
	}
	if f := src.cfg.EngineKeyFile; f != "" {
		if rt.engine, err = loadEngineKey(f); err != nil {
			return nil, fmt.Errorf("engine_key_file: %w", err)
		}
	}
	if rt.engine == nil && src.needEngineKey {
		return nil, errors.New("engine_key_file is required: the trigger consumer signs every incident it starts with the engine's key " +
			"(ssh-keygen -t ed25519 -N '' -f engine-key; mode 0600; docs/security.md)")
	}
	c, sec, err := rt.compile(src.cfg)
	if err != nil {
		return nil, err
	}
	rt.live.Set(c, sec)
	return rt, nil
}

// signer is the engine's start signer (nil without an engine key: starts
// go unsigned and the workflow refuses them).
func (rt *authzRuntime) signer() temporalstart.Signer {
	if rt == nil || rt.engine == nil {
		return nil
	}
	return temporalstart.KeySigner(rt.engine)
}

// compile builds the policy and secrets from cfg (and the dev operator).
func (rt *authzRuntime) compile(cfg *config.Config) (*authz.Compiled, authz.Secrets, error) {
	where := rt.src.file
	if where == "" {
		where = "config"
	}
	if cfg.Approvers != nil {
		return nil, nil, fmt.Errorf("%s: approvers: %s", where, config.ApproversMigration)
	}
	sec := &staticSecrets{totp: map[string][]byte{}, sms: rt.src.smsCodeKey}
	var ops []authz.Operator
	if d := rt.devOp; d != nil && !rosterHas(cfg.Operators, d.op.Name) {
		ops = append(ops, d.op)
		sec.totp[d.op.Name] = d.totp
	}
	for i, o := range cfg.Operators {
		ops = append(ops, o.Operator)
		if o.TOTPFile == "" {
			continue
		}
		secret, err := config.ReadTOTPFile(o.TOTPFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: operators[%d].totp_file: %w", where, i, err)
		}
		sec.totp[o.Name] = secret
	}
	registered, err := registeredRunbooks(rt.src.dirs)
	if err != nil {
		return nil, nil, err
	}
	if rt.src.books != nil {
		for _, b := range rt.src.books() {
			if err := register(registered, &b.Runbook); err != nil {
				return nil, nil, err
			}
		}
	}
	p := authz.Policy{Operators: ops, Roles: cfg.Roles, Registered: registered, MaxAge: cfg.Authz.MaxAge.D()}
	if rt.engine != nil {
		p.EngineKeys = []string{operatorkey.AuthorizedKey(rt.engine.PublicKey(), authz.EngineName)}
	}
	c, err := authz.Compile(p)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", where, err)
	}
	return c, sec, nil
}

func rosterHas(ops []config.Operator, name string) bool {
	for _, o := range ops {
		if o.Name == name {
			return true
		}
	}
	return false
}

// reload re-reads the config file's roster, roles and authz settings (and
// the runbook directories) and swaps the policy. On any error the old
// policy stays and the error says why.
func (rt *authzRuntime) reload() error {
	cfg := rt.src.cfg
	if rt.src.file != "" {
		var err error
		if cfg, err = config.Load(rt.src.file); err != nil {
			return err
		}
	}
	c, sec, err := rt.compile(cfg)
	if err != nil {
		return err
	}
	rt.live.Set(c, sec)
	return nil
}

// watchReload reloads on every SIGHUP until the returned stop is called.
func (rt *authzRuntime) watchReload(out io.Writer) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
				rt.reloadAndLog(out)
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// reloadAndLog is one SIGHUP.
func (rt *authzRuntime) reloadAndLog(out io.Writer) {
	if err := rt.reload(); err != nil {
		fmt.Fprintf(out, "roster reload refused, the previous policy stays: %v\n", err)
		rt.src.logger.Error("roster reload refused, the previous policy stays", "err", err)
		return
	}
	n := len(rt.live.Policy().Operators())
	fmt.Fprintf(out, "roster reloaded: %d operators (policy %s)\n", n, rt.live.Policy().Version())
	rt.src.logger.Info("roster reloaded", "operators", n, "policy", rt.live.Policy().Version())
}

// staticSecrets are the second-factor secrets of one compiled policy.
type staticSecrets struct {
	totp map[string][]byte
	sms  []byte
}

func (s *staticSecrets) TOTPSecret(op string) ([]byte, bool) {
	b, ok := s.totp[op]
	return b, ok
}

func (s *staticSecrets) SMSCodeKey() []byte { return s.sms }

// registeredRunbooks maps the definition digest of every runbook the worker
// knows — shipped, and every file of dirs — to its name. The digest covers
// the parsed definition and the action metadata a starter resolves for it,
// which is what the workflow hashes from its input at its start check.
func registeredRunbooks(dirs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range runbooks.Shipped() {
		lr, err := parseRunbook("runbooks/"+s.File, s.Src)
		if err != nil {
			return nil, err
		}
		if err := register(out, lr.Runbook); err != nil {
			return nil, err
		}
	}
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
		for _, f := range files {
			src, err := runbooks.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("runbook file %s: %w", f, err)
			}
			lr, err := parseRunbook(f, src)
			if err != nil {
				return nil, err
			}
			if err := register(out, lr.Runbook); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// register adds rb under its definition digest.
func register(out map[string]string, rb *runbooks.Runbook) error {
	actions, err := resolveActions(rb)
	if err != nil {
		return err
	}
	out[runbooks.DefinitionDigest(*rb, actions)] = rb.Name
	return nil
}

// Where `runbook dev` keeps the local operator and the engine key.
func devOperatorDir(home string) string { return filepath.Join(home, "operator") }

// devOperatorKey is the dev operator's private key: the CLI's default key.
func devOperatorKey(home string) string { return filepath.Join(devOperatorDir(home), "id_ed25519") }

// devOperatorTOTP is the dev operator's base32 TOTP secret.
func devOperatorTOTP(home string) string { return filepath.Join(devOperatorDir(home), "totp") }

// devEngineKey is the dev engine's signing key.
func devEngineKey(home string) string { return filepath.Join(home, "engine-key") }

// provisionDevOperator creates, once, the local user's key pair and TOTP
// secret, and returns the roster entry: roles [admin], the lab's everything.
func provisionDevOperator(home string) (*devOperator, error) {
	name := devOperatorName(os.Getenv("USER"))
	keyFile := devOperatorKey(home)
	if err := createSecretFileOnce(keyFile, func() ([]byte, error) { return newOpenSSHKey(name + "@runbook-dev") }); err != nil {
		return nil, err
	}
	k, err := operatorkey.Load(keyFile)
	if err != nil {
		return nil, err
	}
	line := operatorkey.AuthorizedKey(k.PublicKey(), name+"@runbook-dev")
	if _, err := os.Stat(keyFile + ".pub"); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(keyFile+".pub", []byte(line+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	if err := createSecretFileOnce(devOperatorTOTP(home), newTOTPSecret); err != nil {
		return nil, err
	}
	totp, err := config.ReadTOTPFile(devOperatorTOTP(home))
	if err != nil {
		return nil, err
	}
	return &devOperator{keyFile: keyFile, totp: totp,
		op: authz.Operator{Name: name, Keys: []string{line}, Roles: []string{authz.RoleAdmin}}}, nil
}

// summary is the line runbook dev prints about its operator.
func (d *devOperator) summary() string {
	pub, err := authz.ParsePublicKey(d.op.Keys[0])
	fp := "?"
	if err == nil {
		fp = authz.Fingerprint(pub)
	}
	return fmt.Sprintf("operator %s (%s): roles %s — key %s", d.op.Name, fp, strings.Join(d.op.Roles, ", "), d.keyFile)
}

var notOperatorChars = regexp.MustCompile(`[^a-z0-9._-]+`)

// devOperatorName is $USER as authz accepts a name: lower case, other
// characters as '-', starting with a letter, at most 64; "operator" when
// nothing is left (or the name is the engine's).
func devOperatorName(user string) string {
	n := notOperatorChars.ReplaceAllString(strings.ToLower(strings.TrimSpace(user)), "-")
	n = strings.TrimLeft(n, "0123456789._-")
	if len(n) > 64 {
		n = n[:64]
	}
	n = strings.TrimRight(n, "._-")
	if n == "" || n == authz.EngineName {
		return "operator"
	}
	return n
}

// provisionEngineKey creates the dev engine key once and loads it.
func provisionEngineKey(path string) (ssh.Signer, error) {
	if err := createSecretFileOnce(path, func() ([]byte, error) { return newOpenSSHKey("runbook-engine") }); err != nil {
		return nil, err
	}
	return loadEngineKey(path)
}

// loadEngineKey reads the engine key, refusing a file others can read.
func loadEngineKey(path string) (ssh.Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s is mode %04o: the engine key must be readable by its owner only (chmod 600)", path, perm)
	}
	return operatorkey.Load(path)
}

// newOpenSSHKey is a fresh ed25519 private key in OpenSSH format (what
// ssh-keygen writes; operatorkey.Load and ssh-add read it).
func newOpenSSHKey(comment string) ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(block), nil
}

// newTOTPSecret is 20 random bytes (RFC 4226's recommended 160 bits) in
// base32, as authenticator apps take it.
func newTOTPSecret() ([]byte, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return []byte(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b) + "\n"), nil
}

// refusalQueue bounds the refusals waiting to be written: a flood of
// refused attempts costs memory up to this, then is counted, never blocks
// a validator.
const refusalQueue = 256

// refusalAudit writes each refused attempt to the incident's audit trail
// (a refused Update leaves no trace in Temporal's history), off the
// validator's path.
type refusalAudit struct {
	store interface {
		Append(context.Context, audit.Record) (audit.Record, error)
	}
	queue   chan audit.Record
	dropped atomic.Int64
	failed  atomic.Int64
	logger  *slog.Logger
	cancel  context.CancelFunc
	done    chan struct{}
}

// auditRefusals routes Live.OnRefusal to store until stop.
func (rt *authzRuntime) auditRefusals(store interface {
	Append(context.Context, audit.Record) (audit.Record, error)
}) {
	ra := &refusalAudit{store: store, queue: make(chan audit.Record, refusalQueue), logger: rt.src.logger, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	ra.cancel = cancel
	go ra.run(ctx)
	rt.refusals = ra
	rt.live.OnRefusal = ra.onRefusal
}

// stop ends the writer (records still queued are dropped and counted).
func (rt *authzRuntime) stop() {
	if rt == nil || rt.refusals == nil {
		return
	}
	rt.refusals.cancel()
	<-rt.refusals.done
}

// refusalRecord is the audit record of one refusal: who the statement
// claimed to be, the verb, and why — never the statement or a code.
func refusalRecord(req authz.Request, r *authz.Refusal) audit.Record {
	incident := req.Incident
	if incident == "" && req.Schedule != "" {
		// Schedule ids are drill:<runbook>:<bot>: the schedule's own
		// trail, where the drill controller records accepted changes.
		incident = req.Schedule
	}
	if incident == "" {
		incident = "authz"
	}
	attrs := map[string]string{"verb": string(r.Verb), "reason": r.Reason}
	if r.Operator != "" {
		attrs["operator"] = r.Operator
	}
	for k, v := range map[string]string{"group": req.Group, "runbook": req.Runbook, "trigger": req.Trigger, "schedule": req.Schedule} {
		if v != "" {
			attrs[k] = v
		}
	}
	return audit.Record{IncidentID: incident, Run: req.Run, Kind: audit.AuthzRefused, Step: req.Step, Actor: r.Operator,
		Attrs: attrs, Time: req.Now, Key: "authz/refused/" + uuid.NewString()}
}

func (ra *refusalAudit) onRefusal(req authz.Request, r *authz.Refusal) {
	select {
	case ra.queue <- refusalRecord(req, r):
	default:
		ra.dropped.Add(1)
	}
}

func (ra *refusalAudit) run(ctx context.Context) {
	defer close(ra.done)
	for {
		select {
		case <-ctx.Done():
			return
		case rec := <-ra.queue:
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := ra.store.Append(actx, rec)
			cancel()
			if err != nil {
				ra.failed.Add(1)
				ra.logger.Error("audit record of a refusal not written", "incident", rec.IncidentID, "verb", rec.Attrs["verb"], "err", err)
			}
		}
	}
}

// wireWorker gives the worker's other users of the roster their live view:
// the SMS webhook relays replies signed with the engine key, and
// notify.ask_approvers texts the operators who may answer a gate. Called
// by both worker setups once the worker exists, before the webhook.
func (rt *authzRuntime) wireWorker(w worker.Worker, s *smsSetup) {
	s.useAuthz(rt.live, rt.engine)
	s.registerAskApprovers(w, rt.live)
}

// signStartAsDevOperator signs in's start (trigger manual) with the key of
// the operator `runbook dev` provisioned: for the bench, which starts
// incidents straight through the SDK as an operator would through exec.
func (rt *authzRuntime) signStartAsDevOperator(in *workflows.IncidentInput) error {
	if rt == nil || rt.devOp == nil {
		return errors.New("no dev operator: only runbook dev's stack can sign as the local operator")
	}
	s, err := operatorkey.Load(rt.devOp.keyFile)
	if err != nil {
		return err
	}
	st := workflows.StartStatement(*in)
	now := time.Now().UTC()
	st.Operator, st.IssuedAt, st.Expires = rt.devOp.op.Name, now, now.Add(statementTTL)
	signed, err := operatorkey.Sign(s, st)
	if err != nil {
		return err
	}
	in.Authorization = &signed
	return nil
}
