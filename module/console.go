package module

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/console"
)

func init() {
	caddy.RegisterModule(Console{})
}

// Headers and policies of every console answer.
const (
	// consoleHeader must be on every state-changing API request: a form
	// cannot send it, and a cross-origin script cannot either without a
	// CORS preflight, which the console never grants.
	consoleHeader = "X-Inbox-Console"
	// consoleCSP allows the console's own scripts, styles and API and
	// nothing else: no inline script or style, no other origin, no frames.
	consoleCSP = "default-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
	// rawBodyCSP is the policy of a raw event body: a stranger's bytes,
	// shown as text and never allowed to run or load anything.
	rawBodyCSP = "default-src 'none'; sandbox"
)

// Console is the webhook_inbox_console HTTP handler: a web console to
// browse, inspect and replay the events of the running webhook_inbox app.
// It serves, relative to its root (the path it is mounted at, found from
// the request path, so `route /inbox/*` and `handle_path /inbox/*` both
// work):
//
//	<root>                      the event list
//	<root>events/<escaped id>   one event (?source= picks the source)
//	<root>targets               the targets, their chart and bulk replay
//	<root>assets/…              the embedded scripts and styles
//	<root>api/…                 JSON: the admin API's routes and shapes
//
// Put it behind Caddy's own authentication (basic_auth, forward_auth):
// the console checks where a state-changing request comes from, not who
// sends it. Answers never carry a target URL, a secret or the store's
// location.
type Console struct {
	// ReadOnly makes the console browse-only: replay, bulk replay, delete,
	// pause and resume are refused with 403 and their buttons are not
	// shown.
	ReadOnly bool `json:"read_only,omitempty"`

	api     *AdminAPI
	assets  map[string]consoleAsset
	shells  [2][]byte // the app shell for pages at depth 0 and 1
	sampler *deliverySampler
	logger  *zap.Logger
}

// consoleAsset is one embedded file with its answer headers.
type consoleAsset struct {
	body        []byte
	contentType string
	etag        string
}

// assetTypes are the content types of the console's files, declared here
// rather than read from the system's MIME table, which varies.
var assetTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
}

// CaddyModule returns the Caddy module information.
func (Console) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.webhook_inbox_console",
		New: func() caddy.Module { return new(Console) },
	}
}

// Provision loads the embedded assets and joins the delivery sampler
// that feeds the targets page's chart.
func (c *Console) Provision(ctx caddy.Context) error {
	c.logger = ctx.Logger()
	c.api = &AdminAPI{logger: c.logger}
	if err := c.loadAssets(console.FS()); err != nil {
		return fmt.Errorf("loading console assets: %w", err)
	}
	val, _, err := samplerPool.LoadOrNew(samplerKey, func() (caddy.Destructor, error) {
		return newDeliverySampler(c.logger.Named("sampler"), time.Now()), nil
	})
	if err != nil {
		return err
	}
	c.sampler = val.(*deliverySampler)
	return nil
}

// Cleanup releases the sampler; the last console to go stops it.
func (c *Console) Cleanup() error {
	if c.sampler == nil {
		return nil
	}
	_, err := samplerPool.Delete(samplerKey)
	return err
}

// loadAssets reads the shell and every file under assets/.
func (c *Console) loadAssets(fsys fs.FS) error {
	shell, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		return err
	}
	// Relative, so the page works under any prefix, even one a proxy
	// in front of Caddy strips.
	const base = `<base href="./">`
	if !bytes.Contains(shell, []byte(base)) {
		return errors.New(`index.html lacks <base href="./">`)
	}
	c.shells[0] = shell
	c.shells[1] = bytes.Replace(shell, []byte(base), []byte(`<base href="../">`), 1)
	c.assets = make(map[string]consoleAsset)
	return fs.WalkDir(fsys, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct, ok := assetTypes[path.Ext(name)]
		if !ok {
			ct = "application/octet-stream"
		}
		c.assets[strings.TrimPrefix(name, "assets/")] = consoleAsset{
			body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`,
		}
		return nil
	})
}

// consoleRoute is what a request path asks the console for.
type consoleRoute struct {
	kind string // "page", "asset" or "api"
	// page is "list", "event" or "targets"; depth is how many segments
	// below the root the page's path is, for the shell's <base>.
	page  string
	depth int
	// rest is the escaped path below <root>assets/ or <root>api/.
	rest string
}

// consoleAPIShapes are the API paths below <root>api/, as segments; "*"
// is one escaped path segment (an event ID or a target name).
var consoleAPIShapes = [][]string{
	{"events", "*", "replay"},
	{"events", "*", "body"},
	{"targets", "*", "pause"},
	{"targets", "*", "resume"},
	{"events", "*"},
	{"config"}, {"series"}, {"stats"}, {"events"}, {"replay"},
}

// routeConsole finds what an escaped request path asks for by its tail,
// since the console does not know the prefix it is mounted under. Longer
// shapes are tried first, API shapes before pages, so an event whose ID
// is "targets" is still reached as events/targets. An event ID is one
// escaped segment: its '/' arrives as %2F.
func routeConsole(escaped string, assetExists func(string) bool) (consoleRoute, bool) {
	segs := strings.Split(escaped, "/")
	n := len(segs)
	// tail reports whether the last k segments exist below at least
	// the leading empty segment of an absolute path.
	tail := func(k int) []string {
		if n-k < 1 {
			return nil
		}
		return segs[n-k:]
	}
	for _, shape := range consoleAPIShapes {
		t := tail(len(shape) + 1)
		if t == nil || t[0] != "api" || !matchShape(t[1:], shape) {
			continue
		}
		return consoleRoute{kind: "api", rest: strings.Join(t[1:], "/")}, true
	}
	if t := tail(2); t != nil && t[0] == "assets" && assetExists(t[1]) {
		return consoleRoute{kind: "asset", rest: t[1]}, true
	}
	if t := tail(2); t != nil && t[0] == "events" && t[1] != "" {
		return consoleRoute{kind: "page", page: "event", depth: 1}, true
	}
	if t := tail(1); t != nil && t[0] == "targets" {
		return consoleRoute{kind: "page", page: "targets"}, true
	}
	if t := tail(1); t != nil && t[0] == "" {
		return consoleRoute{kind: "page", page: "list"}, true
	}
	return consoleRoute{}, false
}

// matchShape reports whether segs has shape's literal segments and a
// non-empty segment for each "*".
func matchShape(segs, shape []string) bool {
	for i, s := range shape {
		if s == "*" {
			if segs[i] == "" {
				return false
			}
		} else if segs[i] != s {
			return false
		}
	}
	return true
}

// ServeHTTP serves the console. It never passes a request on.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", consoleCSP)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "DENY")

	route, ok := routeConsole(r.URL.EscapedPath(), func(name string) bool {
		_, ok := c.assets[name]
		return ok
	})
	if !ok {
		return caddyhttp.Error(http.StatusNotFound, errors.New("no such console page"))
	}
	if route.kind == "api" {
		hdr.Set("Cache-Control", "no-store")
		c.serveAPI(w, r, route.rest)
		return nil
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		return caddyhttp.Error(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed", r.Method))
	}
	if route.kind == "asset" {
		a := c.assets[route.rest]
		hdr.Set("Content-Type", a.contentType)
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("ETag", a.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
		return nil
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(c.shells[route.depth]))
	return nil
}

// checkStateChange refuses, with the reason, a state-changing request the
// console must not act on: any in read-only mode, and any that may come
// from another site. A browser marks where a request comes from with
// Sec-Fetch-Site and Origin; the custom header stops a form or a simple
// cross-origin request, which can set neither.
func (c *Console) checkStateChange(r *http.Request) error {
	if c.ReadOnly {
		return errors.New("the console is read-only")
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return fmt.Errorf("cross-site request refused (Sec-Fetch-Site: %s)", site)
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
			return errors.New("cross-site request refused (Origin is not this host)")
		}
	}
	if r.Header.Get(consoleHeader) != "1" {
		return fmt.Errorf("state-changing requests need the header %s: 1", consoleHeader)
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Console)(nil)
	_ caddy.CleanerUpper          = (*Console)(nil)
	_ caddyhttp.MiddlewareHandler = (*Console)(nil)
)
