package authz_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/keyresponse/runbook/runbooks/authz"
)

// The tests sign here without integrations/operatorkey (authz must not
// import ours): a raw ed25519 key as an ssh.Signer is all signing needs.
type person struct {
	name   string
	signer ssh.Signer
}

func newPerson(t *testing.T, name string) person {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return person{name, s}
}

func (p person) key() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(p.signer.PublicKey())))
}

func sign(t *testing.T, s ssh.Signer, st authz.Statement) *authz.Signed {
	t.Helper()
	if st.Nonce == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		st.Nonce = hex.EncodeToString(b[:])
	}
	msg, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(rand.Reader, authz.SignedData(msg))
	if err != nil {
		t.Fatal(err)
	}
	return &authz.Signed{Statement: string(msg), Signature: authz.ArmorSignature(s.PublicKey(), sig)}
}

type secrets struct {
	totp map[string][]byte
	key  []byte
}

func (s secrets) TOTPSecret(op string) ([]byte, bool) { b, ok := s.totp[op]; return b, ok }
func (s secrets) SMSCodeKey() []byte                  { return s.key }

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

type fixture struct {
	alice, bob, carol, mallory, engine person
	c                                  *authz.Compiled
	sec                                secrets
}

func newFixture(t *testing.T) fixture {
	f := fixture{alice: newPerson(t, "alice"), bob: newPerson(t, "bob"), carol: newPerson(t, "carol"),
		mallory: newPerson(t, "mallory"), engine: newPerson(t, "engine")}
	c, err := authz.Compile(authz.Policy{
		Operators: []authz.Operator{
			{Name: "alice", Keys: []string{f.alice.key()}, Roles: []string{"approver"}, Phone: "+15550001"},
			{Name: "bob", Keys: []string{f.bob.key()}, Roles: []string{"responder"}},
			{Name: "carol", Keys: []string{f.carol.key()}, Roles: []string{"security-lead"}},
		},
		Roles:      map[string]authz.Role{"security-lead": {Approve: []string{"security"}, Exec: []string{"contain-*"}}},
		EngineKeys: []string{f.engine.key()},
		Registered: map[string]string{"sha256:aa": "contain-key-breach"},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	f.sec = secrets{totp: map[string][]byte{"alice": []byte("12345678901234567890")}, key: []byte("0123456789abcdef0123")}
	return f
}

func approveStmt(op string) authz.Statement {
	return authz.Statement{Verb: authz.VerbApprove, Operator: op, Incident: "inc", Run: "run-1", Step: "gate",
		IssuedAt: now.Add(-time.Second), Expires: now.Add(4 * time.Minute)}
}

func approveReq(s *authz.Signed) authz.Request {
	return authz.Request{Verb: authz.VerbApprove, Incident: "inc", Run: "run-1", Step: "gate", Group: "oncall", Now: now, Signed: s}
}

func refusedWith(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want a refusal containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("refusal %q does not say %q", err, want)
	}
}

func TestAuthorizedApproveNamesTheKeyThatSigned(t *testing.T) {
	f := newFixture(t)
	v, err := f.c.Authorize(approveReq(sign(t, f.alice.signer, approveStmt("alice"))), f.sec)
	if err != nil {
		t.Fatal(err)
	}
	if v.Operator != "alice" || v.Fingerprint != ssh.FingerprintSHA256(f.alice.signer.PublicKey()) || v.Policy != f.c.Version() {
		t.Fatalf("verified %+v", v)
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name string
		req  func() authz.Request
		want string
	}{
		{"unsigned", func() authz.Request { return approveReq(nil) }, "not signed"},
		{"not an approver", func() authz.Request { return approveReq(sign(t, f.bob.signer, approveStmt("bob"))) }, `bob is not an approver of group "oncall"`},
		{"group outside the custom role", func() authz.Request {
			return approveReq(sign(t, f.carol.signer, approveStmt("carol")))
		}, `carol is not an approver of group "oncall"`},
		{"--as someone else", func() authz.Request { return approveReq(sign(t, f.bob.signer, approveStmt("alice"))) }, "signed with bob's key"},
		{"key not in the roster", func() authz.Request {
			return approveReq(sign(t, f.mallory.signer, approveStmt("alice")))
		}, "is not one of alice's keys"},
		{"name not in the roster", func() authz.Request {
			return approveReq(sign(t, f.mallory.signer, approveStmt("mallory")))
		}, `"mallory" is not in the roster`},
		{"expired", func() authz.Request {
			st := approveStmt("alice")
			st.IssuedAt, st.Expires = now.Add(-10*time.Minute), now.Add(-time.Minute)
			return approveReq(sign(t, f.alice.signer, st))
		}, "expired"},
		{"too long-lived", func() authz.Request {
			st := approveStmt("alice")
			st.Expires = now.Add(time.Hour)
			return approveReq(sign(t, f.alice.signer, st))
		}, "longer than"},
		{"from the future", func() authz.Request {
			st := approveStmt("alice")
			st.IssuedAt, st.Expires = now.Add(5*time.Minute), now.Add(6*time.Minute)
			return approveReq(sign(t, f.alice.signer, st))
		}, "in the future"},
		{"other incident", func() authz.Request {
			st := approveStmt("alice")
			st.Incident = "other"
			return approveReq(sign(t, f.alice.signer, st))
		}, "incident"},
		{"other run", func() authz.Request {
			st := approveStmt("alice")
			st.Run = "run-0"
			return approveReq(sign(t, f.alice.signer, st))
		}, "run"},
		{"other verb", func() authz.Request {
			st := approveStmt("alice")
			st.Verb = authz.VerbDeny
			return approveReq(sign(t, f.alice.signer, st))
		}, `for "deny", not "approve"`},
		{"tampered statement", func() authz.Request {
			s := sign(t, f.alice.signer, approveStmt("alice"))
			s.Statement = strings.Replace(s.Statement, `"gate"`, `"gate2"`, 1)
			r := approveReq(s)
			r.Step = "gate2"
			return r
		}, "does not verify"},
		{"abort by an approver", func() authz.Request {
			st := approveStmt("alice")
			st.Verb, st.Step = authz.VerbAbort, ""
			return authz.Request{Verb: authz.VerbAbort, Incident: "inc", Run: "run-1", Now: now, Signed: sign(t, f.alice.signer, st)}
		}, "may abort"},
		{"ad-hoc exec without adhoc", func() authz.Request {
			st := authz.Statement{Verb: authz.VerbExec, Operator: "bob", Incident: "inc", Runbook: "evil", Definition: "sha256:ff",
				Inputs: "h", Trigger: "manual", IssuedAt: now, Expires: now.Add(time.Minute)}
			return authz.Request{Verb: authz.VerbExec, Incident: "inc", Runbook: "evil", Definition: "sha256:ff", Inputs: "h", Trigger: "manual", Now: now, Signed: sign(t, f.bob.signer, st)}
		}, "not registered with the engine"},
		{"operator claims an event start", func() authz.Request {
			st := authz.Statement{Verb: authz.VerbExec, Operator: "bob", Incident: "inc", Runbook: "contain-key-breach", Definition: "sha256:aa",
				Trigger: "event", IssuedAt: now, Expires: now.Add(time.Minute)}
			return authz.Request{Verb: authz.VerbExec, Incident: "inc", Runbook: "contain-key-breach", Definition: "sha256:aa", Trigger: "event", Now: now, Signed: sign(t, f.bob.signer, st)}
		}, "by hand"},
		{"engine approves on its own", func() authz.Request {
			return approveReq(sign(t, f.engine.signer, approveStmt(authz.EngineName)))
		}, "only by relaying"},
		{"drill change by a non-member", func() authz.Request {
			st := authz.Statement{Verb: authz.VerbDrillPause, Operator: "bob", Schedule: "drill:x:bot-1", IssuedAt: now, Expires: now.Add(time.Minute)}
			return authz.Request{Verb: authz.VerbDrillPause, Schedule: "drill:x:bot-1", Now: now, Signed: sign(t, f.bob.signer, st)}
		}, "may change drills"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.c.Authorize(c.req(), f.sec)
			refusedWith(t, err, c.want)
			if _, ok := err.(*authz.Refusal); !ok {
				t.Fatalf("error is %T, want *authz.Refusal", err)
			}
		})
	}
}

func TestExecOfRegisteredAndAdhocRunbooks(t *testing.T) {
	f := newFixture(t)
	exec := func(s person, op, name, hash string) (authz.Verified, error) {
		st := authz.Statement{Verb: authz.VerbExec, Operator: op, Incident: "inc", Runbook: name, Definition: hash, Inputs: "h",
			Trigger: "manual", IssuedAt: now, Expires: now.Add(time.Minute)}
		return f.c.Authorize(authz.Request{Verb: authz.VerbExec, Incident: "inc", Runbook: name, Definition: hash, Inputs: "h",
			Trigger: "manual", Now: now, Signed: sign(t, s.signer, st)}, f.sec)
	}
	if v, err := exec(f.bob, "bob", "contain-key-breach", "sha256:aa"); err != nil || v.Adhoc {
		t.Fatalf("registered exec: %+v %v", v, err)
	}
	// Same name, other content: ad hoc, whatever it is called.
	if _, err := exec(f.bob, "bob", "contain-key-breach", "sha256:bb"); err == nil {
		t.Fatal("a changed definition under a registered name ran without adhoc")
	}
	// The custom role limits exec to contain-*.
	_, err := exec(f.carol, "carol", "rotate-keys", "sha256:cc")
	refusedWith(t, err, "may exec runbook rotate-keys")
}

func TestSecondFactors(t *testing.T) {
	f := newFixture(t)
	withFactor := func(kind, code string) authz.Request {
		st := approveStmt("alice")
		st.Factor = &authz.Factor{Kind: kind, Code: code}
		return approveReq(sign(t, f.alice.signer, st))
	}
	// TOTP.
	good := authz.TOTPCode(f.sec.totp["alice"], authz.TOTPCounter(now), 6)
	r := withFactor(authz.FactorTOTP, good)
	r.SecondFactor = authz.FactorTOTP
	v, err := f.c.Authorize(r, f.sec)
	if err != nil || v.Factor != authz.FactorTOTP || v.FactorStep != authz.TOTPCounter(now) {
		t.Fatalf("totp: %+v %v", v, err)
	}
	r = withFactor(authz.FactorTOTP, "000000")
	if good == "000000" {
		r = withFactor(authz.FactorTOTP, "111111")
	}
	r.SecondFactor = authz.FactorTOTP
	_, err = f.c.Authorize(r, f.sec)
	refusedWith(t, err, "wrong or expired TOTP code")
	r = approveReq(sign(t, f.alice.signer, approveStmt("alice")))
	r.SecondFactor = authz.FactorTOTP
	_, err = f.c.Authorize(r, f.sec)
	refusedWith(t, err, "needs a second factor")

	// SMS: bound to person, gate, run and time.
	issued := now.Add(-time.Minute)
	code := authz.SMSFactorCode(f.sec.key, "alice", "inc", "run-1", "gate", issued)
	r = withFactor(authz.FactorSMS, strings.ToLower(code))
	r.SecondFactor, r.FactorIssuedAt = authz.FactorSMS, issued
	if _, err := f.c.Authorize(r, f.sec); err != nil {
		t.Fatalf("sms: %v", err)
	}
	for name, other := range map[string]string{
		"other person": authz.SMSFactorCode(f.sec.key, "bob", "inc", "run-1", "gate", issued),
		"other run":    authz.SMSFactorCode(f.sec.key, "alice", "inc", "run-0", "gate", issued),
		"other gate":   authz.SMSFactorCode(f.sec.key, "alice", "inc", "run-1", "gate0", issued),
	} {
		r = withFactor(authz.FactorSMS, other)
		r.SecondFactor, r.FactorIssuedAt = authz.FactorSMS, issued
		if _, err := f.c.Authorize(r, f.sec); err == nil {
			t.Fatalf("sms code of %s accepted", name)
		}
	}
	r = withFactor(authz.FactorSMS, code)
	r.SecondFactor, r.FactorIssuedAt = authz.FactorSMS, now.Add(-authz.SMSCodeTTL-time.Second)
	_, err = f.c.Authorize(r, f.sec)
	refusedWith(t, err, "expired")
}

func TestEngineRelaysAnSMSReplyOnBehalfOfAnOperator(t *testing.T) {
	f := newFixture(t)
	st := approveStmt(authz.EngineName)
	st.OnBehalfOf = "alice"
	// The engine's key alone answers nothing: the relay must carry the code
	// texted to that operator for this gate and run.
	st.Factor = &authz.Factor{Kind: authz.FactorSMSReply, Code: "XXXXXX"}
	_, err := f.c.Authorize(approveReq(sign(t, f.engine.signer, st)), f.sec)
	refusedWith(t, err, "does not carry the code texted to alice")
	st.Factor.Code = authz.OperatorReplyCode(f.sec.key, "bob", "inc", "run-1", "gate") // bob's code
	_, err = f.c.Authorize(approveReq(sign(t, f.engine.signer, st)), f.sec)
	refusedWith(t, err, "does not carry the code texted to alice")
	st.Factor.Code = authz.OperatorReplyCode(f.sec.key, "alice", "inc", "run-1", "gate")
	v, err := f.c.Authorize(approveReq(sign(t, f.engine.signer, st)), f.sec)
	if err != nil || v.Operator != "alice" || v.Via != authz.EngineName || v.Factor != authz.FactorSMSReply {
		t.Fatalf("%+v %v", v, err)
	}
	st.OnBehalfOf = "bob" // bob may not approve, relayed or not
	_, err = f.c.Authorize(approveReq(sign(t, f.engine.signer, st)), f.sec)
	refusedWith(t, err, "bob is not an approver")
	// An operator cannot relay for another.
	st = approveStmt("alice")
	st.OnBehalfOf = "bob"
	_, err = f.c.Authorize(approveReq(sign(t, f.alice.signer, st)), f.sec)
	refusedWith(t, err, "only the engine relays")
}

// RFC 6238 appendix B, SHA-1, 8 digits.
func TestTOTPMatchesRFC6238Vectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for unix, want := range map[int64]string{59: "94287082", 1111111109: "07081804", 1111111111: "14050471",
		1234567890: "89005924", 2000000000: "69279037", 20000000000: "65353130"} {
		if got := authz.TOTPCode(secret, authz.TOTPCounter(time.Unix(unix, 0)), 8); got != want {
			t.Errorf("T=%d: %s, want %s", unix, got, want)
		}
	}
	code := authz.TOTPCode(secret, authz.TOTPCounter(now), 6)
	if _, ok := authz.CheckTOTP(secret, code, now.Add(authz.TOTPStep)); !ok {
		t.Error("a code one step old is refused (one step of skew is allowed)")
	}
	if _, ok := authz.CheckTOTP(secret, code, now.Add(3*authz.TOTPStep)); ok {
		t.Error("a code three steps old is accepted")
	}
	if _, err := authz.DecodeTOTPSecret("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"); err != nil {
		t.Error(err)
	}
}

func TestCompileNamesTheBadField(t *testing.T) {
	a := newPerson(t, "a")
	for want, p := range map[string]authz.Policy{
		`operators[0] (alice).roles[0]: unknown role "root"`:      {Operators: []authz.Operator{{Name: "alice", Keys: []string{a.key()}, Roles: []string{"root"}}}},
		"operators[0] (alice).keys[0]: not an OpenSSH public key": {Operators: []authz.Operator{{Name: "alice", Keys: []string{"ssh-ed25519 nope"}, Roles: []string{"admin"}}}},
		"also alice's":            {Operators: []authz.Operator{{Name: "alice", Keys: []string{a.key()}, Roles: []string{"admin"}}, {Name: "bob", Keys: []string{a.key()}, Roles: []string{"admin"}}}},
		"reserved for the engine": {Operators: []authz.Operator{{Name: "engine", Keys: []string{a.key()}, Roles: []string{"admin"}}}},
		"roles.admin: a built-in role cannot be redefined": {Roles: map[string]authz.Role{"admin": {}}},
	} {
		if _, err := authz.Compile(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

func TestLiveRefusesAUsedTOTPStepAndReportsRefusals(t *testing.T) {
	f := newFixture(t)
	var l authz.Live
	var refused []string
	l.OnRefusal = func(_ authz.Request, r *authz.Refusal) { refused = append(refused, r.Reason) }
	if _, err := l.Authorize(approveReq(nil)); err == nil {
		t.Fatal("an empty Live accepted")
	}
	l.Set(f.c, f.sec)
	st := approveStmt("alice")
	st.Factor = &authz.Factor{Kind: authz.FactorTOTP, Code: authz.TOTPCode(f.sec.totp["alice"], authz.TOTPCounter(now), 6)}
	r := approveReq(sign(t, f.alice.signer, st))
	r.SecondFactor = authz.FactorTOTP
	v, err := l.Authorize(r)
	if err != nil {
		t.Fatal(err)
	}
	l.Consume(v)
	r.Incident, r.Signed = "inc2", nil
	st.Incident = "inc2"
	r.Signed = sign(t, f.alice.signer, st)
	_, err = l.Authorize(r)
	refusedWith(t, err, "already used")
	if len(refused) != 2 {
		t.Fatalf("OnRefusal saw %d refusals, want 2: %v", len(refused), refused)
	}
}
