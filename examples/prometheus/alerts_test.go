// Package prometheus holds the example Prometheus alerting rules; its test
// checks them against the metric names the module exports (internal/metricnames) and runs promtool.
package prometheus

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/metricnames"
	"github.com/webhookinbox/caddy-webhook-inbox/internal/testtool"
)

// metricToken finds metric names of this project in an expression.
var metricToken = regexp.MustCompile(`caddy_webhook_inbox_[a-zA-Z0-9_:]*`)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func TestAlertRules(t *testing.T) {
	raw, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file ruleFile
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	used := map[string]bool{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			t.Run(r.Alert, func(t *testing.T) {
				if r.Alert == "" || seen[r.Alert] {
					t.Fatalf("alert name %q is empty or repeats", r.Alert)
				}
				seen[r.Alert] = true
				if sev := r.Labels["severity"]; sev != "warning" && sev != "critical" {
					t.Errorf("severity %q, want warning or critical", sev)
				}
				for _, a := range []string{"summary", "description"} {
					if strings.TrimSpace(r.Annotations[a]) == "" {
						t.Errorf("no %s annotation", a)
					}
				}
				names := metricToken.FindAllString(r.Expr, -1)
				if len(names) == 0 {
					t.Errorf("expression uses none of the inbox metrics: %s", r.Expr)
				}
				for _, n := range names {
					if !slices.Contains(metricnames.All, n) {
						t.Errorf("unknown metric %s", n)
					}
					used[n] = true
				}
			})
		}
	}
	// What the rules must watch (the brief of examples/prometheus).
	for _, n := range []string{
		"caddy_webhook_inbox_deliveries_total",
		"caddy_webhook_inbox_dead_letters",
		"caddy_webhook_inbox_oldest_pending_seconds",
		"caddy_webhook_inbox_target_up",
		"caddy_webhook_inbox_received_total",
		"caddy_webhook_inbox_free_space_bytes",
	} {
		if !used[n] {
			t.Errorf("no alert watches %s", n)
		}
	}
}

// TestAlertRulesPromtool validates the rules and runs their unit tests
// (alerts_test.yml) with promtool. Without promtool it skips, except in CI
// (CI set), where it fails: CI installs it (Debian package prometheus).
func TestAlertRulesPromtool(t *testing.T) {
	promtool := needPromtool(t)
	for _, args := range [][]string{
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// needPromtool returns the path of promtool; see internal/testtool.
func needPromtool(t *testing.T) string {
	t.Helper()
	return testtool.Require(t, "promtool", "apt-get install -y --no-install-recommends prometheus, or a Prometheus release")
}
