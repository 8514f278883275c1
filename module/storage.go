package module

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// StorageBackend is a storage module, in the webhook_inbox.storage
// namespace: it names where the inbox keeps its events and opens a store
// there. Like reverse_proxy's transports, a backend is picked by name in
// the config ("backend": "badger"), and each is a module of its own.
type StorageBackend interface {
	// PoolKey names the store: configs with the same key share one open
	// store (and one dispatcher) across reloads. It never holds a secret.
	PoolKey() string
	// OpenStore opens the store with the given initial policy. It runs in
	// App.Start, never in Provision, so `caddy validate` touches nothing.
	OpenStore(log *zap.Logger, p store.Policy) (store.Store, error)
}

// parseStorage reads `storage <backend> { … }` into a module's JSON.
func parseStorage(d *caddyfile.Dispenser) (caddyRaw []byte, err error) {
	var name string
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	name = d.Val()
	mod, err := caddyfile.UnmarshalModule(d, "webhook_inbox.storage."+name)
	if err != nil {
		return nil, err
	}
	return caddyconfig.JSONModuleObject(mod, "backend", name, nil), nil
}

// loadStorage provisions the app's storage backend: the configured
// module, or the Badger default in storage_dir.
func (a *App) loadStorage(ctx caddy.Context) error {
	if a.StorageRaw != nil && a.StorageDir != "" {
		return fmt.Errorf("storage_dir and storage are two ways to say the same thing: use one")
	}
	if a.StorageRaw == nil {
		b := &BadgerStorage{Dir: a.StorageDir}
		if err := b.Provision(ctx); err != nil {
			return err
		}
		a.backend = b
		return nil
	}
	mod, err := ctx.LoadModule(a, "StorageRaw")
	if err != nil {
		return fmt.Errorf("loading storage module: %w", err)
	}
	b, ok := mod.(StorageBackend)
	if !ok {
		return fmt.Errorf("storage module %T is not a storage backend", mod)
	}
	a.backend = b
	return nil
}
