package nats

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Defaults of Options, declared once (the Caddy module uses them too).
const (
	// DefaultPrefix names the stream and prefixes its subjects.
	DefaultPrefix = "webhook_inbox"
	// DefaultReplicas is how many servers keep each message.
	DefaultReplicas = 3
	// DefaultLeaseTTL is how long a store's leases outlive its last
	// heartbeat: a gateway that dies loses its leases after this.
	DefaultLeaseTTL = 30 * time.Second
	// DefaultSweepInterval is how often settled events past their
	// retention are looked for.
	DefaultSweepInterval = time.Minute
	// DefaultOpTimeout bounds each call to the cluster: Accept returns
	// ErrUnavailable after it when there is no quorum.
	DefaultOpTimeout = 5 * time.Second
)

// tombstoneTTL is how long a tombstone stays in the stream: long enough
// for every running view to read it, then it expires by itself.
const tombstoneTTL = time.Hour

// Options configure Open. Credentials are never logged nor put in errors.
type Options struct {
	// Servers are the NATS URLs to connect to (nats://host:port).
	Servers []string
	// Replicas is the number of replicas of the stream (DefaultReplicas
	// when zero; 1 for a single server).
	Replicas int
	// Prefix names the stream and its subjects (DefaultPrefix when empty):
	// letters, digits, '_' and '-'.
	Prefix string

	// User and Password authenticate with a user name and password.
	User, Password string
	// Token authenticates with a token.
	Token string
	// CredsFile is a NATS credentials file (JWT and NKey seed).
	CredsFile string
	// CAFile, CertFile and KeyFile set up TLS: the CA that signs the
	// servers' certificates, and a client certificate and key.
	CAFile, CertFile, KeyFile string

	// Clock is the store's time (store.WallClock when nil).
	Clock store.Clock
	// Policy is the initial policy.
	Policy store.Policy
	// Logger logs connection changes and background failures.
	Logger *zap.Logger

	// LeaseTTL is DefaultLeaseTTL when zero; heartbeats go out every
	// third of it.
	LeaseTTL time.Duration
	// SweepInterval is DefaultSweepInterval when zero.
	SweepInterval time.Duration
	// OpTimeout is DefaultOpTimeout when zero.
	OpTimeout time.Duration
}

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (o Options) withDefaults() (Options, error) {
	if len(o.Servers) == 0 {
		return o, fmt.Errorf("no NATS servers given")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if !prefixRE.MatchString(o.Prefix) {
		return o, fmt.Errorf("prefix %q: only letters, digits, '_' and '-' are allowed", o.Prefix)
	}
	if o.Replicas == 0 {
		o.Replicas = DefaultReplicas
	}
	if o.Replicas < 1 || o.Replicas > 5 {
		return o, fmt.Errorf("replicas %d: between 1 and 5", o.Replicas)
	}
	if o.Clock == nil {
		o.Clock = store.WallClock
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.LeaseTTL < time.Second {
		// Heartbeats expire by per-message TTLs, in whole seconds.
		return o, fmt.Errorf("lease TTL %s: at least 1s", o.LeaseTTL)
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = DefaultOpTimeout
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return o, fmt.Errorf("tls: cert_file and key_file go together")
	}
	return o, nil
}

// natsOptions turns the options into the client's, secrets included.
func (o Options) natsOptions(log *zap.Logger) []nats.Option {
	opts := []nats.Option{
		nats.Name("caddy-webhook-inbox"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.Timeout(o.OpTimeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: closed by Close
				log.Warn("disconnected from NATS", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("reconnected to NATS", zap.String("server", nc.ConnectedUrlRedacted()))
		}),
	}
	if o.User != "" || o.Password != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.CAFile != "" {
		opts = append(opts, nats.RootCAs(o.CAFile))
	}
	if o.CertFile != "" {
		opts = append(opts, nats.ClientCert(o.CertFile, o.KeyFile))
	}
	return opts
}

// Validate checks the options as Open would, touching nothing.
func (o Options) Validate() error {
	_, err := o.withDefaults()
	return err
}

func (o Options) serverList() string { return RedactedServers(o.Servers) }

// RedactedServers joins the server URLs with commas, without any user
// information they carry, for logs, pool keys and Describe.
func RedactedServers(servers []string) string {
	out := make([]string, len(servers))
	for i, s := range servers {
		if at := strings.LastIndex(s, "@"); at >= 0 {
			if scheme := strings.Index(s, "://"); scheme >= 0 && scheme < at {
				s = s[:scheme+3] + s[at+1:]
			} else {
				s = s[at+1:]
			}
		}
		out[i] = s
	}
	return strings.Join(out, ",")
}

// scrub is err's text with every secret of o (and the servers' user
// information) cut out, for errors that quote what the client saw.
func (o Options) scrub(err error) string {
	msg := err.Error()
	for _, secret := range []string{o.Password, o.Token} {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
	}
	for _, s := range o.Servers {
		if r := RedactedServers([]string{s}); r != s {
			msg = strings.ReplaceAll(msg, s, r)
		}
	}
	return msg
}
