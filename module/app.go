// Package module is the Caddy glue of caddy-webhook-inbox: the
// webhook_inbox app (storage and targets), the webhook_inbox HTTP handler,
// the storage backend modules, the admin API, metrics and their Caddyfile
// syntax. Importing it also registers the `caddy webhook` subcommands
// (package cli), so a Caddy built with xcaddy --with this package has them.
package module

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	// The subcommands come with the module (see the package comment).
	_ "github.com/webhookinbox/caddy-webhook-inbox/cli"
	"github.com/webhookinbox/caddy-webhook-inbox/relay"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

func init() {
	caddy.RegisterModule(App{})
}

// DefaultMinFreeSpace is the app's min_free_space when none is set; the
// dedup window and retention default to store.DefaultDedupWindow and
// store.DefaultRetention.
const DefaultMinFreeSpace = 128 << 20

// storePool holds one open store per storage backend's pool key, shared by
// every config that names it: Caddy starts a new config before it stops
// the old one, so a reload reuses the open store (and its one dispatcher)
// instead of fighting over Badger's directory lock or opening a second
// cluster connection.
var storePool = caddy.NewUsagePool()

// App is the webhook_inbox app: it owns the durable store and the named
// delivery targets that webhook_inbox handlers route events to.
type App struct {
	// StorageDir is the directory of the embedded Badger database, short
	// for a storage of backend "badger" with this dir. The default is
	// "webhook_inbox" under Caddy's app data directory.
	StorageDir string `json:"storage_dir,omitempty"`

	// StorageRaw picks the storage backend by name ("backend": "badger"),
	// with its settings. It cannot be combined with StorageDir. The
	// default is Badger in StorageDir.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=webhook_inbox.storage inline_key=backend"`

	// DedupWindow is how long an event ID is remembered to drop duplicates.
	// The default is 72h.
	DedupWindow caddy.Duration `json:"dedup_window,omitempty"`

	// Retention is how long delivered and dead-lettered events stay
	// inspectable before they are deleted. The default is 168h.
	Retention caddy.Duration `json:"retention,omitempty"`

	// MinFreeSpace is the free disk space, in bytes, below which ingress
	// answers 503 instead of accepting events. The default is 128 MiB; a
	// negative value disables the check.
	MinFreeSpace int64 `json:"min_free_space,omitempty"`

	// Targets are the named downstream endpoints events are delivered to.
	Targets map[string]*Target `json:"targets,omitempty"`

	// Notify names a target that receives an inbox.target_down event when
	// another target's circuit opens and inbox.target_recovered when it
	// closes (source "inbox", stored and delivered like any event). Empty
	// means no such events.
	Notify string `json:"notify,omitempty"`

	schemes *sourceSchemes // module/sender.go
	backend StorageBackend
	handle  *storeHandle
	store   store.Store
	ready   chan struct{}
	ctx     context.Context
	logger  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "webhook_inbox",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision sets defaults and checks the configuration. It opens no files,
// so `caddy validate` never touches or locks the store.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx = ctx
	a.logger = ctx.Logger()
	a.ready = make(chan struct{})
	a.schemes = new(sourceSchemes)

	if a.DedupWindow == 0 {
		a.DedupWindow = caddy.Duration(store.DefaultDedupWindow)
	}
	if a.DedupWindow < 0 {
		return fmt.Errorf("dedup_window must be positive, got %s", time.Duration(a.DedupWindow))
	}
	if a.Retention == 0 {
		a.Retention = caddy.Duration(store.DefaultRetention)
	}
	if a.Retention < 0 {
		return fmt.Errorf("retention must be positive, got %s", time.Duration(a.Retention))
	}
	if a.MinFreeSpace == 0 {
		a.MinFreeSpace = DefaultMinFreeSpace
	}

	if err := a.loadStorage(ctx); err != nil {
		return err
	}

	repl := caddy.NewReplacer()
	for name, t := range a.Targets {
		if err := t.provision(name, repl); err != nil {
			return err
		}
	}
	if _, ok := a.Targets[a.Notify]; a.Notify != "" && !ok {
		return fmt.Errorf("notify: no target named %q", a.Notify)
	}
	return registerMetrics(ctx.GetMetricsRegistry(), a)
}

// policy returns the store settings of this config.
func (a *App) policy() store.Policy {
	free := a.MinFreeSpace
	if free < 0 {
		free = 0
	}
	return store.Policy{
		DedupWindow:  time.Duration(a.DedupWindow),
		Retention:    time.Duration(a.Retention),
		MinFreeSpace: free,
	}
}

// storeHandle is what storePool keeps per store: the open store, its one
// dispatcher, and the configs currently using them.
type storeHandle struct {
	store      store.Store
	dispatcher *relay.Dispatcher
	notifier   *notifier

	mu sync.Mutex
	// active lists the started configs' apps, oldest first. The newest
	// one's targets are delivered to; if it stops (a reload whose config
	// failed to start is rolled back), the previous one's targets return.
	active []*App
}

// newStoreHandle starts the dispatcher and the target-health notifier of
// an open store.
func newStoreHandle(st store.Store, log *zap.Logger) *storeHandle {
	h := &storeHandle{store: st}
	h.notifier = newNotifier(h, log.Named("notify"))
	h.dispatcher = relay.NewDispatcher(st, relay.DispatcherOptions{
		Logger:   log.Named("delivery"),
		Observer: h.notifier,
	})
	return h
}

// Destruct stops delivery and closes the store when the last config using
// it stops.
func (h *storeHandle) Destruct() error {
	err := h.dispatcher.Close()
	h.notifier.close()
	return errors.Join(err, h.store.Close())
}

// notifyTarget is the running config's notify target, or "".
func (h *storeHandle) notifyTarget() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.active) == 0 {
		return ""
	}
	return h.active[len(h.active)-1].Notify
}

// use records that app runs on this store and delivers to its targets.
func (h *storeHandle) use(app *App) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.active = append(h.active, app)
	h.dispatcher.SetTargets(app.targetConfigs())
	h.store.SetPolicy(app.policy())
}

// release forgets app; if it was the newest, the previous config's
// targets and policy apply again.
func (h *storeHandle) release(app *App) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, a := range h.active {
		if a == app {
			h.active = append(h.active[:i], h.active[i+1:]...)
			if i == len(h.active) && i > 0 {
				prev := h.active[i-1]
				h.dispatcher.SetTargets(prev.targetConfigs())
				h.store.SetPolicy(prev.policy())
			}
			return
		}
	}
}

// Start opens (or shares) the store of the configured directory and hands
// this config's targets to its dispatcher.
func (a *App) Start() error {
	val, loaded, err := storePool.LoadOrNew(a.backend.PoolKey(), func() (caddy.Destructor, error) {
		st, err := a.backend.OpenStore(a.logger.Named("store"), a.policy())
		if err != nil {
			return nil, err
		}
		return newStoreHandle(st, a.logger), nil
	})
	if err != nil {
		return fmt.Errorf("opening webhook inbox store: %w", err)
	}
	h := val.(*storeHandle)
	h.use(a)
	a.handle = h
	a.store = h.store
	runningApps.add(a)
	close(a.ready)
	a.logger.Info("webhook inbox started",
		zap.String("storage", a.backend.PoolKey()),
		zap.Bool("shared_with_previous_config", loaded),
		zap.Int("targets", len(a.Targets)))
	return nil
}

// Stop releases this config's hold on the store; the last holder stops
// delivery and closes it.
func (a *App) Stop() error {
	if a.handle == nil {
		return nil
	}
	runningApps.remove(a)
	a.handle.release(a)
	_, err := storePool.Delete(a.backend.PoolKey())
	return err
}

// errNotStarted means a request arrived while the app was not running.
var errNotStarted = errors.New("webhook inbox is not running")

// waitStore returns the store once the app has started. Caddy starts apps
// in no fixed order, so during a start or reload a request can reach the
// handler a moment before the app has opened its store; it waits briefly
// rather than failing.
func (a *App) waitStore(ctx context.Context) (store.Store, error) {
	select {
	case <-a.ready:
		return a.store, nil
	default:
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case <-a.ready:
		return a.store, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-a.ctx.Done():
		return nil, errNotStarted
	case <-timer.C:
		return nil, errNotStarted
	}
}

// validateURL checks a target URL; its errors never repeat the URL,
// which may carry a token.
func validateURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("url does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("url scheme must be http or https")
	}
	if u.Host == "" {
		return errors.New("url has no host")
	}
	return nil
}

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
	_ caddy.Destructor  = (*storeHandle)(nil)
)
