package module

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// What the Caddyfile adapter can check of a webhook_inbox directive
// against the global webhook_inbox block, so that `caddy adapt` and
// `caddy run` report it with its file and line instead of at provision,
// at the end of a long error chain. A handler loaded from JSON is checked
// at provision only, as before.

// globalFacts is what a directive is checked against: the targets the
// global block defines and its dedup window.
type globalFacts struct {
	targets     map[string]bool
	dedupWindow time.Duration
}

// globalFactsOf reads the global webhook_inbox block's targets and dedup
// window. Without the block there are no targets, as at provision.
func globalFactsOf(h httpcaddyfile.Helper) (*globalFacts, error) {
	facts := &globalFacts{targets: map[string]bool{}, dedupWindow: store.DefaultDedupWindow}
	app, ok := h.Option("webhook_inbox").(httpcaddyfile.App)
	if !ok {
		return facts, nil
	}
	var cfg struct {
		DedupWindow caddy.Duration             `json:"dedup_window"`
		Targets     map[string]json.RawMessage `json:"targets"`
	}
	if err := json.Unmarshal(app.Value, &cfg); err != nil {
		return nil, fmt.Errorf("reading the global webhook_inbox block: %w", err)
	}
	for name := range cfg.Targets {
		facts.targets[name] = true
	}
	if cfg.DedupWindow > 0 {
		facts.dedupWindow = time.Duration(cfg.DedupWindow)
	}
	return facts, nil
}

// checkTargets reports the first of names the global block does not
// define, at the dispenser's current line.
func (f *globalFacts) checkTargets(d *caddyfile.Dispenser, what string, names []string) error {
	for _, n := range names {
		if f.targets[n] {
			continue
		}
		defined := "none"
		if len(f.targets) > 0 {
			defined = strings.Join(slices.Sorted(maps.Keys(f.targets)), ", ")
		}
		return d.Errf("%s: unknown target %q; the global webhook_inbox block defines %s", what, n, defined)
	}
	return nil
}

// checkMaxAge reports a max_age longer than the dedup window.
func (f *globalFacts) checkMaxAge(d *caddyfile.Dispenser, maxAge time.Duration) error {
	if maxAge > f.dedupWindow {
		return d.Errf("max_age %s is longer than dedup_window %s: a replayed event older than the window would be accepted again", maxAge, f.dedupWindow)
	}
	return nil
}

// ruleHint adds to a rule's compile error the likely cause when the rule
// came as several Caddyfile tokens: an unquoted rule with spaces is split
// into words, the first of which is taken for the rule and the rest for
// targets.
func ruleHint(err error, args []string) error {
	if len(args) > 2 && !strings.ContainsAny(args[0], " \t") {
		return fmt.Errorf("%w (a rule with spaces must be one token: wrap it in backticks, `%s`)", err, strings.Join(args, " "))
	}
	return err
}

// errAt reports err at the line of tok.
func errAt(tok caddyfile.Token, format string, args ...any) error {
	d := caddyfile.NewDispenser([]caddyfile.Token{tok})
	d.Next()
	return d.Errf(format, args...)
}
