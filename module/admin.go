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
	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/relay"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// adminBase is the path prefix of every admin route of the inbox.
const adminBase = "/webhook_inbox/"

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
	return []caddy.AdminRoute{{Pattern: adminBase, Handler: caddy.AdminHandlerFunc(a.serve)}}
}

// serve routes a request by its escaped path, so an escaped '/' in an
// event ID stays inside the ID.
func (a *AdminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	path := strings.TrimPrefix(r.URL.EscapedPath(), adminBase)
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
// cursor 400, a closed store (a reload in progress) 503, anything else 500.
func storeError(err error) error {
	switch {
	case errors.Is(err, relay.ErrNotFound):
		return apiError(http.StatusNotFound, err)
	case errors.Is(err, relay.ErrBadCursor):
		return apiError(http.StatusBadRequest, err)
	case errors.Is(err, relay.ErrClosed):
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

// statsAnswer is the body of GET /webhook_inbox/stats.
type statsAnswer struct {
	Targets map[string]targetStats `json:"targets"`
	Store   storeStats             `json:"store"`
}

// targetStats is one target's line in the stats.
type targetStats struct {
	Pending              int64     `json:"pending"`
	Dead                 int64     `json:"dead"`
	OldestPendingSeconds float64   `json:"oldest_pending_seconds"`
	OldestPending        time.Time `json:"oldest_pending,omitzero"`
	// Circuit is "closed" or "open"; an orphaned target has no breaker
	// and reports "closed".
	Circuit             string    `json:"circuit"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	NextProbe           time.Time `json:"next_probe,omitzero"`
	// Configured is false for a target with queue entries or dead
	// letters that the running config no longer defines.
	Configured bool `json:"configured"`
	// Orphaned is true for a target that is not configured but still has
	// pending deliveries: they wait until it is configured again (the
	// events list shows them with status=orphaned).
	Orphaned bool `json:"orphaned"`
}

// storeStats describes the store; free_space_bytes is -1 when unknown.
type storeStats struct {
	Dir            string `json:"dir"`
	FreeSpaceBytes int64  `json:"free_space_bytes"`
	SizeBytes      int64  `json:"size_bytes"`
}

func (a *AdminAPI) stats(w http.ResponseWriter, _ *http.Request, app *App) error {
	inbox := app.handle.inbox
	stats, err := inbox.Stats()
	if err != nil {
		return storeError(err)
	}
	size, err := inbox.Size()
	if err != nil {
		a.logger.Warn("measuring webhook inbox store size", zap.Error(err))
		size = -1
	}
	circuits := app.handle.dispatcher.Circuits()
	now := time.Now()
	out := statsAnswer{
		Targets: make(map[string]targetStats),
		Store:   storeStats{Dir: inbox.Dir(), FreeSpaceBytes: inbox.FreeSpace(), SizeBytes: size},
	}
	for _, name := range statsTargets(app, stats) {
		st := stats[name]
		ts := targetStats{
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
func statsTargets(app *App, stats map[string]relay.TargetStats) []string {
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
func orphanedTargets(app *App, stats map[string]relay.TargetStats) []string {
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
func isOrphaned(app *App, name string, st relay.TargetStats) bool {
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
