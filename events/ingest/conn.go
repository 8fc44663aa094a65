package ingest

import (
	"crypto/tls"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnOptions says how to reach and authenticate to NATS. At most one of
// the credential methods should be set: user/password, token, an nkey seed
// file, or a creds file (JWT + nkey seed, as `nsc` writes them).
type ConnOptions struct {
	URL       string // nats://host:4222; comma-separated for a cluster
	Name      string // client name shown in server monitoring
	User      string
	Password  string
	Token     string
	NKeyFile  string // file holding an nkey user seed (SU...)
	CredsFile string // .creds file
	// TLS, when set, is required of the server (even on a nats:// URL):
	// roots, server name and, for mTLS, the client certificate.
	TLS *tls.Config
	// ReconnectWait between attempts; the client reconnects forever so a
	// NATS restart never kills the consumer. Default 250ms.
	ReconnectWait time.Duration
	// Extra options appended last (TLS, callbacks).
	Extra []nats.Option
}

// Connect dials NATS with the chosen credentials and infinite reconnects.
func Connect(o ConnOptions) (*nats.Conn, error) {
	if o.URL == "" {
		o.URL = nats.DefaultURL
	}
	methods := 0
	opts := []nats.Option{nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false)}
	if o.Name != "" {
		opts = append(opts, nats.Name(o.Name))
	}
	wait := o.ReconnectWait
	if wait <= 0 {
		wait = 250 * time.Millisecond
	}
	opts = append(opts, nats.ReconnectWait(wait))
	if o.User != "" || o.Password != "" {
		methods++
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.Token != "" {
		methods++
		opts = append(opts, nats.Token(o.Token))
	}
	if o.NKeyFile != "" {
		methods++
		opt, err := nats.NkeyOptionFromSeed(o.NKeyFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, opt)
	}
	if o.CredsFile != "" {
		methods++
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if methods > 1 {
		return nil, errors.New("nats: choose one of user/password, token, nkey seed or creds file")
	}
	if o.TLS != nil {
		opts = append(opts, nats.Secure(o.TLS))
	}
	opts = append(opts, o.Extra...)
	return nats.Connect(o.URL, opts...)
}
