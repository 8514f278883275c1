package module

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// consoleConfig is the body of GET <root>api/config: what the page needs
// to know before it draws anything. Target names only, never their URLs.
type consoleConfig struct {
	ReadOnly bool     `json:"read_only"`
	Targets  []string `json:"targets"`
}

// serveAPI answers <root>api/<rest>. The console's own routes are config,
// series and an event's raw body; stats is the admin API's with the
// store's location left out; everything else is the admin API itself,
// so the console shows and does exactly what the admin API does.
func (c *Console) serveAPI(w http.ResponseWriter, r *http.Request, rest string) {
	var err error
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		if err = c.checkStateChange(r); err != nil {
			err = apiError(http.StatusForbidden, err)
			break
		}
		err = c.forwardAdmin(w, r, rest)
	case rest == "config":
		err = c.serveConfig(w)
	case rest == "series":
		err = c.serveSeries(w)
	case rest == "stats":
		err = c.serveStats(w, r)
	case strings.HasPrefix(rest, "events/") && strings.HasSuffix(rest, "/body"):
		err = c.serveBody(w, r, strings.TrimSuffix(strings.TrimPrefix(rest, "events/"), "/body"))
	default:
		err = c.forwardAdmin(w, r, rest)
	}
	if err != nil {
		writeConsoleError(w, err)
	}
}

// consoleErrorAnswer is an error answer: the admin endpoint's
// {"error":"…"}, plus, for an ID several sources hold (409), their names,
// so the page can offer one link per source.
type consoleErrorAnswer struct {
	Error   string   `json:"error"`
	Sources []string `json:"sources,omitempty"`
}

// writeConsoleError writes an error with the APIError's status, 500 for
// any other error.
func writeConsoleError(w http.ResponseWriter, err error) {
	out := consoleErrorAnswer{Error: err.Error()}
	status := http.StatusInternalServerError
	var ae caddy.APIError
	if errors.As(err, &ae) {
		status = ae.HTTPStatus
		// an APIError does not unwrap; its Err does
		err = ae.Err
	}
	var ambiguous *store.AmbiguousError
	if errors.As(err, &ambiguous) {
		out.Sources = ambiguous.Sources
	}
	buf, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(buf, '\n'))
}

// forwardAdmin serves rest with the admin API's own handler, as if it
// were requested at /webhook_inbox/<rest> on the admin endpoint.
func (c *Console) forwardAdmin(w http.ResponseWriter, r *http.Request, rest string) error {
	escaped := adminapi.Base + rest
	unescaped, err := url.PathUnescape(escaped)
	if err != nil {
		return apiError(http.StatusNotFound, errors.New("invalid path"))
	}
	u := *r.URL
	u.Path, u.RawPath = unescaped, escaped
	ar := r.WithContext(r.Context())
	ar.URL = &u
	return c.api.serve(w, ar)
}

func (c *Console) serveConfig(w http.ResponseWriter) error {
	out := consoleConfig{ReadOnly: c.ReadOnly, Targets: []string{}}
	if app := runningApps.current(); app != nil {
		out.Targets = app.targetNames()
	}
	return writeAdminJSON(w, http.StatusOK, out)
}

// serveStats answers the admin API's stats without the store's dir and
// servers: a console page has no use for them, and a servers URL may
// carry credentials.
func (c *Console) serveStats(w http.ResponseWriter, r *http.Request) error {
	rec := &bufferedResponse{header: make(http.Header)}
	if err := c.forwardAdmin(rec, r, "stats"); err != nil {
		return err
	}
	var answer map[string]json.RawMessage
	if err := json.Unmarshal(rec.body.Bytes(), &answer); err != nil {
		return apiError(http.StatusInternalServerError, fmt.Errorf("reading stats: %w", err))
	}
	if raw, ok := answer["store"]; ok {
		var st map[string]json.RawMessage
		if err := json.Unmarshal(raw, &st); err != nil {
			return apiError(http.StatusInternalServerError, fmt.Errorf("reading stats: %w", err))
		}
		delete(st, "dir")
		delete(st, "servers")
		answer["store"], _ = json.Marshal(st)
	}
	return writeAdminJSON(w, rec.status, answer)
}

// serveBody answers an event's body exactly as it was received, as text
// that nothing may run: the page shows it on request ("raw bytes"), where
// the admin API's answer has it re-encoded inside JSON.
func (c *Console) serveBody(w http.ResponseWriter, r *http.Request, rawID string) error {
	id, err := url.PathUnescape(rawID)
	if err != nil || id == "" {
		return apiError(http.StatusNotFound, errors.New("invalid event id in path"))
	}
	app := runningApps.current()
	if app == nil {
		return apiError(http.StatusServiceUnavailable, errors.New("webhook inbox is not running"))
	}
	rec, err := app.handle.store.Get(r.Context(), r.URL.Query().Get("source"), id)
	if err != nil {
		return storeError(err)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Content-Security-Policy", rawBodyCSP)
	hdr.Set("Content-Disposition", "inline")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(rec.Body))
	return nil
}

func (c *Console) serveSeries(w http.ResponseWriter) error {
	var targets []string
	if app := runningApps.current(); app != nil {
		targets = app.targetNames()
	}
	return writeAdminJSON(w, http.StatusOK, c.sampler.series(time.Now(), targets))
}

// bufferedResponse keeps an answer in memory so it can be rewritten.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// Interface guards
var _ http.ResponseWriter = (*bufferedResponse)(nil)
