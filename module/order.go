package module

import (
	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/rules"
)

// ordersAny reports whether a target has order_by, so the handler parses
// every payload for its key.
func (a *App) ordersAny() bool {
	for _, t := range a.Targets {
		if t.orderKey != nil {
			return true
		}
	}
	return false
}

// orderKeys computes, at accept time, the order key of each routed target
// that has order_by; nil when there is none. A key that fails to compute
// leaves the event unordered for that target; the first failure of each
// target is logged.
func (h *Handler) orderKeys(targets []string, vars *rules.Vars) map[string]string {
	var keys map[string]string
	for _, name := range targets {
		t := h.app.Targets[name]
		if t == nil || t.orderKey == nil {
			continue
		}
		key, err := t.orderKey.Eval(vars)
		if err != nil {
			if _, seen := h.ruleErrLogged.LoadOrStore(t.orderKey, struct{}{}); !seen {
				h.logger.Warn("order_by failed on an event, which is delivered unordered; further failures of this expression are not logged",
					zap.String("source", h.Source), zap.String("target", name), zap.String("order_by", t.orderKey.String()), zap.Error(err))
			}
			continue
		}
		if key == "" {
			continue
		}
		if keys == nil {
			keys = make(map[string]string, len(targets))
		}
		keys[name] = key
	}
	return keys
}
