package authz_test

import "testing"

// BenchmarkAuthorizeApprove is the cost of one decision check (SSHSIG
// parse, Ed25519 verify, binding, role): paid twice per accepted Update
// (validator and the handler's SideEffect).
func BenchmarkAuthorizeApprove(b *testing.B) {
	t := &testing.T{}
	f := newFixture(t)
	req := approveReq(sign(t, f.alice.signer, approveStmt("alice")))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.c.Authorize(req, f.sec); err != nil {
			b.Fatal(err)
		}
	}
}
