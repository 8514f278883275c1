package module

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/webhookinbox/caddy-webhook-inbox/adminapi"
	"go.uber.org/zap"
)

// targetRoute picks the handler of a per-target path ({name}/pause or
// {name}/resume); a nil handler answers 404.
func (a *AdminAPI) targetRoute(rest string) (func(http.ResponseWriter, *http.Request, *App) error, []string) {
	rawName, action, _ := strings.Cut(rest, "/")
	name, err := url.PathUnescape(rawName)
	if err != nil || name == "" {
		return nil, nil
	}
	var paused bool
	switch action {
	case "pause":
		paused = true
	case "resume":
	default:
		return nil, nil
	}
	return func(w http.ResponseWriter, r *http.Request, app *App) error {
		return a.setPaused(w, r, app, name, paused)
	}, []string{http.MethodPost}
}

// setPaused pauses or resumes a configured target (404 for any other):
// stored durably through store.Pauses, so it holds across restarts,
// reloads and, with a shared store, every gateway.
func (a *AdminAPI) setPaused(w http.ResponseWriter, r *http.Request, app *App, name string, paused bool) error {
	if _, ok := app.Targets[name]; !ok {
		return apiError(http.StatusNotFound, fmt.Errorf("no such target: %s", name))
	}
	if err := app.handle.dispatcher.SetPaused(r.Context(), name, paused); err != nil {
		if errors.Is(err, r.Context().Err()) {
			return apiError(http.StatusServiceUnavailable, err)
		}
		return storeError(err)
	}
	verb := "resumed"
	if paused {
		verb = "paused"
	}
	a.logger.Info("delivery target "+verb+" over the admin API", zap.String("target", name))
	return writeAdminJSON(w, http.StatusOK, adminapi.TargetPause{Target: name, Paused: paused})
}
