package module

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/badger"
)

func init() {
	caddy.RegisterModule(BadgerStorage{})
}

// BadgerStorage keeps the inbox in an embedded Badger database on this
// machine's disk: the default, needing no other service. `storage_dir DIR`
// is short for `storage badger { dir DIR }`.
type BadgerStorage struct {
	// Dir is the directory of the database. The default is
	// "webhook_inbox" under Caddy's app data directory.
	Dir string `json:"dir,omitempty"`

	abs string
}

// CaddyModule returns the Caddy module information.
func (BadgerStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "webhook_inbox.storage.badger",
		New: func() caddy.Module { return new(BadgerStorage) },
	}
}

// Provision resolves the directory; it creates nothing.
func (b *BadgerStorage) Provision(caddy.Context) error {
	dir := b.Dir
	if dir == "" {
		dir = filepath.Join(caddy.AppDataDir(), "webhook_inbox")
	}
	abs, err := caddy.FastAbs(dir)
	if err != nil {
		return fmt.Errorf("resolving storage dir %q: %w", dir, err)
	}
	b.abs = filepath.Clean(abs)
	return nil
}

// PoolKey is the absolute directory: Badger locks it, so two configs
// naming it must share one open store.
func (b *BadgerStorage) PoolKey() string {
	return "badger:" + b.abs
}

// OpenStore creates the directory if needed and opens the database.
func (b *BadgerStorage) OpenStore(log *zap.Logger, p store.Policy) (store.Store, error) {
	if err := os.MkdirAll(b.abs, 0o700); err != nil {
		return nil, fmt.Errorf("creating storage dir %s: %w", b.abs, err)
	}
	return badger.Open(b.abs, badger.Options{Logger: log, Policy: p})
}

// UnmarshalCaddyfile sets up the backend:
//
//	storage badger {
//		dir <path>
//	}
func (b *BadgerStorage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // backend name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "dir":
			if !d.AllArgs(&b.Dir) {
				return d.ArgErr()
			}
		default:
			return d.Errf("unknown storage badger option %q", d.Val())
		}
	}
	return nil
}

// Interface guards
var (
	_ StorageBackend        = (*BadgerStorage)(nil)
	_ caddy.Provisioner     = (*BadgerStorage)(nil)
	_ caddyfile.Unmarshaler = (*BadgerStorage)(nil)
)
