package module

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI serves the webhook inbox's routes on Caddy's admin endpoint:
//
//	GET    /webhook_inbox/stats                 per-target queue figures and the store's size
//	GET    /webhook_inbox/events                list events, newest first (filters, cursor)
//	GET    /webhook_inbox/events/{id}           one event: body, headers, targets, attempts
//	DELETE /webhook_inbox/events/{id}           purge an event and all its keys
//	POST   /webhook_inbox/events/{id}/replay    redeliver one event (?target= for one target)
//	POST   /webhook_inbox/replay                bulk replay of dead letters (CEL filter, dry run, rate)
//
// Every answer is JSON; errors are {"error":"…"} with a 4xx or 5xx status.
// Answers name targets but never carry their URLs or any secret. Event IDs
// in paths are URL path-escaped, since an ID may hold '/'; the IDs "." and
// ".." are sent as %2E and %2E%2E, since HTTP clients and Caddy's admin
// server clean dot segments away (the router matches the escaped path and
// unescapes the ID segment).
//
// Caddy loads every admin.api module by itself; there is nothing to
// configure.
type AdminAPI struct {
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.webhook_inbox",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Provision keeps the logger. The app is looked up per request (see
// runningApps): admin routers are provisioned before the config's apps,
// and reading the config's app table from a request while a reload
// provisions the next config would race with it.
func (a *AdminAPI) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger(a)
	return nil
}

// Routes returns the one route that serves every path under /webhook_inbox/.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: adminapi.Base, Handler: caddy.AdminHandlerFunc(a.serve)}}
}

// serve routes a request by its escaped path, so an escaped '/' in an
// event ID stays inside the ID.
func (a *AdminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	path := strings.TrimPrefix(r.URL.EscapedPath(), adminapi.Base)
	var (
		handler func(http.ResponseWriter, *http.Request, *App) error
		allowed []string
	)
	switch {
	case path == "stats":
		handler, allowed = a.stats, []string{http.MethodGet}
	case path == "events":
		handler, allowed = a.listEvents, []string{http.MethodGet}
	case path == "replay":
		handler, allowed = a.replayDead, []string{http.MethodPost}
	case strings.HasPrefix(path, "events/"):
		rawID, action, _ := strings.Cut(strings.TrimPrefix(path, "events/"), "/")
		id, err := url.PathUnescape(rawID)
		if err != nil || id == "" {
			return apiError(http.StatusNotFound, errors.New("invalid event id in path"))
		}
		switch action {
		case "":
			allowed = []string{http.MethodGet, http.MethodDelete}
			handler = func(w http.ResponseWriter, r *http.Request, app *App) error {
				if r.Method == http.MethodDelete {
					return a.deleteEvent(w, r, app, id)
				}
				return a.getEvent(w, r, app, id)
			}
		case "replay":
			allowed = []string{http.MethodPost}
			handler = func(w http.ResponseWriter, r *http.Request, app *App) error {
				return a.replayEvent(w, r, app, id)
			}
		}
	}
	if handler == nil {
		return apiError(http.StatusNotFound, fmt.Errorf("no such webhook inbox resource: %s", r.URL.Path))
	}
	if !slices.Contains(allowed, r.Method) {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return apiError(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed; use %s", r.Method, strings.Join(allowed, " or ")))
	}
	app := runningApps.current()
	if app == nil {
		return apiError(http.StatusServiceUnavailable, errors.New("webhook inbox is not running: the config has no webhook_inbox app, or it is starting"))
	}
	return handler(w, r, app)
}

// apiError is an admin error answer; Caddy writes it as {"error":"…"}.
func apiError(status int, err error) error {
	return caddy.APIError{HTTPStatus: status, Err: err}
}

// storeError maps a store error to its answer: not found 404, a bad
// cursor 400, an ID several sources hold 409 (naming them), a closed or
// unavailable store (a reload in progress, a cluster without quorum) 503,
// anything else 500.
func storeError(err error) error {
	var ambiguous *store.AmbiguousError
	switch {
	case errors.As(err, &ambiguous):
		return apiError(http.StatusConflict, fmt.Errorf("%w; add ?source= to the request", ambiguous))
	case errors.Is(err, store.ErrUnavailable):
		return apiError(http.StatusServiceUnavailable, err)
	case errors.Is(err, store.ErrNotFound):
		return apiError(http.StatusNotFound, err)
	case errors.Is(err, store.ErrBadCursor):
		return apiError(http.StatusBadRequest, err)
	case errors.Is(err, store.ErrClosed):
		return apiError(http.StatusServiceUnavailable, err)
	}
	return apiError(http.StatusInternalServerError, err)
}

// writeAdminJSON writes v as the JSON answer with status.
func writeAdminJSON(w http.ResponseWriter, status int, v any) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return apiError(http.StatusInternalServerError, fmt.Errorf("encoding answer: %w", err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(buf, '\n'))
	return nil
}

// describeStore fills adminapi.StoreStats from the store's optional capabilities.
func (a *AdminAPI) describeStore(st store.Store) adminapi.StoreStats {
	var out adminapi.StoreStats
	if d, ok := st.(store.Describer); ok {
		desc := d.Describe()
		out.Backend, out.Dir, out.Servers = desc["backend"], desc["dir"], desc["servers"]
	}
	if du, ok := st.(store.DiskUser); ok {
		size, err := du.Size()
		if err != nil {
			a.logger.Warn("measuring webhook inbox store size", zap.Error(err))
			size = -1
		}
		free := du.FreeSpace()
		out.SizeBytes, out.FreeSpaceBytes = &size, &free
	}
	return out
}

func (a *AdminAPI) stats(w http.ResponseWriter, r *http.Request, app *App) error {
	st := app.handle.store
	stats, err := st.Stats(r.Context())
	if err != nil {
		return storeError(err)
	}
	circuits := app.handle.dispatcher.Circuits()
	now := time.Now()
	out := adminapi.Stats{
		Targets: make(map[string]adminapi.TargetStats),
		Store:   a.describeStore(st),
		Totals:  totals(),
	}
	for _, name := range statsTargets(app, stats) {
		st := stats[name]
		ts := adminapi.TargetStats{
			Pending:              st.Pending,
			Dead:                 st.Dead,
			OldestPendingSeconds: ageSeconds(st.OldestPending, now),
			OldestPending:        st.OldestPending,
			Circuit:              "closed",
		}
		_, ts.Configured = app.Targets[name]
		ts.Orphaned = isOrphaned(app, name, st)
		if c, ok := circuits[name]; ok {
			if c.Open {
				ts.Circuit = "open"
			}
			ts.ConsecutiveFailures, ts.NextProbe = c.ConsecutiveFailures, c.NextProbe
		}
		out.Targets[name] = ts
	}
	return writeAdminJSON(w, http.StatusOK, out)
}

// statsTargets lists, in name order, the app's configured targets and the
// orphaned ones: targets the store still has pending or dead entries for.
func statsTargets(app *App, stats map[string]store.TargetStats) []string {
	names := make(map[string]struct{}, len(app.Targets)+len(stats))
	for name := range app.Targets {
		names[name] = struct{}{}
	}
	for name := range stats {
		names[name] = struct{}{}
	}
	return slices.Sorted(maps.Keys(names))
}

// orphanedTargets lists the targets with pending deliveries that the
// running config does not define: their queues wait for the target to
// come back.
func orphanedTargets(app *App, stats map[string]store.TargetStats) []string {
	var out []string
	for name, st := range stats {
		if isOrphaned(app, name, st) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// isOrphaned reports whether target name has pending deliveries but the
// running config does not define it.
func isOrphaned(app *App, name string, st store.TargetStats) bool {
	_, configured := app.Targets[name]
	return !configured && st.Pending > 0
}

// runningApps lists the started webhook_inbox apps, oldest first. The
// admin API and the store collector serve the newest: Caddy starts a new
// config before it stops the old one, so during a reload two are listed
// for a moment, and a reload that fails to start rolls back to the
// previous one.
var runningApps appList

type appList struct {
	mu   sync.Mutex
	apps []*App
}

func (l *appList) add(a *App) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.apps = append(l.apps, a)
}

func (l *appList) remove(a *App) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i := slices.Index(l.apps, a); i >= 0 {
		l.apps = slices.Delete(l.apps, i, i+1)
	}
}

// current returns the newest started app, or nil.
func (l *appList) current() *App {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.apps) == 0 {
		return nil
	}
	return l.apps[len(l.apps)-1]
}

// Interface guards
var (
	_ caddy.AdminRouter = (*AdminAPI)(nil)
	_ caddy.Provisioner = (*AdminAPI)(nil)
)
