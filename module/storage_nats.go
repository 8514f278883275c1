package module

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	natsstore "github.com/webhookinbox/caddy-webhook-inbox/store/nats"
)

func init() {
	caddy.RegisterModule(NATSStorage{})
}

// NATSStorage keeps the inbox in a replicated NATS JetStream stream
// (nats-server 2.12 or later), so several gateways with the same config
// share every event: `storage nats { … }`. Run the servers with
// `jetstream { sync_interval: always }`, or a power failure can lose
// acknowledged events.
type NATSStorage struct {
	// Servers are the NATS server URLs (nats://host:port). At least one.
	Servers []string `json:"servers,omitempty"`
	// Replicas is how many servers keep every message. The default is 3;
	// use 1 for a single server.
	Replicas int `json:"replicas,omitempty"`
	// Prefix names the stream and its subjects. The default is
	// "webhook_inbox"; gateways sharing one inbox use the same prefix.
	Prefix string `json:"prefix,omitempty"`
	// User is the user name to authenticate with; placeholders such as
	// {env.NATS_USER} are resolved once.
	User string `json:"user,omitempty"`
	// Password goes with User; a placeholder such as {env.NATS_PASSWORD},
	// resolved once and never logged.
	Password string `json:"password,omitempty"`
	// Token authenticates with a token instead; a placeholder, resolved
	// once and never logged.
	Token string `json:"token,omitempty"`
	// CredsFile is a NATS credentials file (JWT and NKey seed).
	CredsFile string `json:"creds_file,omitempty"`
	// TLS configures TLS to the servers.
	TLS *NATSTLS `json:"tls,omitempty"`
	// LeaseTTL is how long a gateway that stopped answering keeps the
	// deliveries it leased before another gateway takes them over (it
	// heartbeats every third of it). The default is 30s; at least 1s.
	// Shorter hands a dead gateway's work on sooner, at the price of more
	// heartbeats, and a gateway stalled longer than it (a long GC pause, a
	// frozen VM) may see an attempt it still runs repeated by another.
	LeaseTTL caddy.Duration `json:"lease_ttl,omitempty"`

	opts natsstore.Options
}

// NATSTLS names the files of TLS to the NATS servers.
type NATSTLS struct {
	// CAFile is the CA certificate that signs the servers' certificates.
	CAFile string `json:"ca_file,omitempty"`
	// CertFile is the client certificate, for servers that verify clients.
	CertFile string `json:"cert_file,omitempty"`
	// KeyFile is the client certificate's private key.
	KeyFile string `json:"key_file,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (NATSStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "webhook_inbox.storage.nats",
		New: func() caddy.Module { return new(NATSStorage) },
	}
}

// Provision resolves the placeholders once and checks the options; it
// connects to nothing.
func (n *NATSStorage) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	var errs []string
	resolve := func(field, v string) string {
		out, err := repl.ReplaceOrErr(v, true, true)
		if err != nil {
			// The error names the placeholder, never its value.
			errs = append(errs, fmt.Sprintf("%s: %v", field, err))
		}
		return out
	}
	o := natsstore.Options{
		Replicas:  n.Replicas,
		Prefix:    resolve("prefix", n.Prefix),
		User:      resolve("user", n.User),
		Password:  resolve("password", n.Password),
		Token:     resolve("token", n.Token),
		CredsFile: resolve("creds_file", n.CredsFile),
		LeaseTTL:  time.Duration(n.LeaseTTL),
	}
	for _, s := range n.Servers {
		o.Servers = append(o.Servers, resolve("servers", s))
	}
	if n.TLS != nil {
		o.CAFile = resolve("tls ca_file", n.TLS.CAFile)
		o.CertFile = resolve("tls cert_file", n.TLS.CertFile)
		o.KeyFile = resolve("tls key_file", n.TLS.KeyFile)
	}
	if n.LeaseTTL != 0 && time.Duration(n.LeaseTTL) < time.Second {
		errs = append(errs, fmt.Sprintf("lease_ttl %s: at least 1s", time.Duration(n.LeaseTTL)))
	}
	if len(errs) > 0 {
		return fmt.Errorf("storage nats: %s", strings.Join(errs, "; "))
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("storage nats: %w", err)
	}
	n.opts = o
	return nil
}

// PoolKey is the servers (sorted, without user information) and the
// prefix: configs naming the same stream share one connection and one
// dispatcher across reloads.
func (n *NATSStorage) PoolKey() string {
	servers := slices.Clone(n.opts.Servers)
	slices.Sort(servers)
	prefix := n.opts.Prefix
	if prefix == "" {
		prefix = natsstore.DefaultPrefix
	}
	return "nats:" + natsstore.RedactedServers(servers) + "/" + prefix
}

// OpenStore connects and opens the stream.
func (n *NATSStorage) OpenStore(log *zap.Logger, p store.Policy) (store.Store, error) {
	o := n.opts
	o.Logger, o.Policy = log, p
	return natsstore.Open(o)
}

// UnmarshalCaddyfile sets up the backend:
//
//	storage nats {
//		servers    <url...>
//		replicas   <n>
//		prefix     <name>
//		user       <name>
//		password   <secret>
//		token      <secret>
//		creds_file <path>
//		lease_ttl  <duration>
//		tls {
//			ca_file   <path>
//			cert_file <path>
//			key_file  <path>
//		}
//	}
func (n *NATSStorage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // backend name
	if d.NextArg() {
		return d.ArgErr()
	}
	one := func(dst *string) error {
		if !d.AllArgs(dst) {
			return d.ArgErr()
		}
		return nil
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "servers":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			n.Servers = append(n.Servers, args...)
		case "replicas":
			var v string
			if err := one(&v); err != nil {
				return err
			}
			r, perr := strconv.Atoi(v)
			if perr != nil || r < 1 {
				return d.Errf("replicas %q: a positive number", v)
			}
			n.Replicas = r
		case "prefix":
			err = one(&n.Prefix)
		case "user":
			err = one(&n.User)
		case "password":
			err = one(&n.Password)
		case "token":
			err = one(&n.Token)
		case "creds_file":
			err = one(&n.CredsFile)
		case "lease_ttl":
			err = parseDuration(d, &n.LeaseTTL)
		case "tls":
			err = n.unmarshalTLS(d)
		default:
			return d.Errf("unknown storage nats option %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (n *NATSStorage) unmarshalTLS(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	n.TLS = new(NATSTLS)
	for d.NextBlock(1) {
		var dst *string
		switch d.Val() {
		case "ca_file":
			dst = &n.TLS.CAFile
		case "cert_file":
			dst = &n.TLS.CertFile
		case "key_file":
			dst = &n.TLS.KeyFile
		default:
			return d.Errf("unknown storage nats tls option %q", d.Val())
		}
		if !d.AllArgs(dst) {
			return d.ArgErr()
		}
	}
	return nil
}

// Interface guards
var (
	_ StorageBackend        = (*NATSStorage)(nil)
	_ caddy.Provisioner     = (*NATSStorage)(nil)
	_ caddyfile.Unmarshaler = (*NATSStorage)(nil)
)
