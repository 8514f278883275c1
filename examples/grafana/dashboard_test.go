// Package grafana holds the example Grafana dashboard; its test checks the
// dashboard's structure and that its queries use only the metric names of
// internal/metricnames.
package grafana

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/metricnames"
	"github.com/webhookinbox/caddy-webhook-inbox/internal/testtool"
)

// promqlWords are the functions, aggregations and operators the queries
// may use; any other word in a query must be a metric name.
var promqlWords = []string{
	"sum", "min", "max", "avg", "count", "rate", "irate", "increase", "delta",
	"histogram_quantile", "vector", "or", "and", "unless", "label_values",
	"min_over_time", "max_over_time", "avg_over_time", "clamp_min",
}

// The datasource every panel and query must use, filled in on import.
const dsUID = "${DS_PROMETHEUS}"

type dashboard struct {
	Inputs []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
	SchemaVersion int     `json:"schemaVersion"`
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string     `json:"name"`
			Type       string     `json:"type"`
			Datasource datasource `json:"datasource"`
			Definition string     `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int        `json:"id"`
	Type       string     `json:"type"`
	Title      string     `json:"title"`
	Datasource datasource `json:"datasource"`
	Targets    []struct {
		Datasource datasource `json:"datasource"`
		Expr       string     `json:"expr"`
		RefID      string     `json:"refId"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func load(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard.json is not valid JSON: %v", err)
	}
	return d
}

// flatten lists the panels, those inside rows included, except the rows.
func flatten(panels []panel) []panel {
	var out []panel
	for _, p := range panels {
		if p.Type != "row" {
			out = append(out, p)
		}
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

var (
	quoted      = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	matchers    = regexp.MustCompile(`\{[^}]*\}`)
	ranges      = regexp.MustCompile(`\[[^\]]*\]`)
	grouping    = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identifiers = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	// labelValues is Grafana's label_values(metric, label) variable query.
	labelValues = regexp.MustCompile(`label_values\(([^,()]*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)`)
)

// queryWords returns the words of a PromQL query that are metric names or
// functions: label matchers, ranges, grouping labels, strings and the label
// of label_values removed.
func queryWords(q string) []string {
	q = labelValues.ReplaceAllString(q, "label_values($1)")
	q = quoted.ReplaceAllString(q, " ")
	q = matchers.ReplaceAllString(q, " ")
	q = ranges.ReplaceAllString(q, " ")
	q = grouping.ReplaceAllString(q, " ")
	return identifiers.FindAllString(q, -1)
}

// checkQuery reports words of q that are neither a known metric nor PromQL.
func checkQuery(t *testing.T, where, q string, used map[string]bool) {
	t.Helper()
	words := queryWords(q)
	metrics := 0
	for _, w := range words {
		switch {
		case slices.Contains(metricnames.All, w):
			used[w] = true
			metrics++
		case !slices.Contains(promqlWords, w):
			t.Errorf("%s: %q is not an exported metric (query %s)", where, w, q)
		}
	}
	if metrics == 0 {
		t.Errorf("%s: query uses no metric: %s", where, q)
	}
}

func TestDashboard(t *testing.T) {
	d := load(t)
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d, want about 39", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("no uid or title")
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].Type != "datasource" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs = %+v, want one DS_PROMETHEUS prometheus datasource", d.Inputs)
	}

	used := map[string]bool{}
	ids := map[int]bool{}
	panels := flatten(d.Panels)
	if len(panels) == 0 {
		t.Fatal("no panels")
	}
	for _, p := range panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.Title == "" || ids[p.ID] {
			t.Errorf("%s: no title, or the id repeats", where)
		}
		ids[p.ID] = true
		if p.Datasource.UID != dsUID {
			t.Errorf("%s: datasource %+v, want uid %s", where, p.Datasource, dsUID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no queries", where)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if q.RefID == "" || refs[q.RefID] {
				t.Errorf("%s: refId %q empty or repeated", where, q.RefID)
			}
			refs[q.RefID] = true
			if q.Datasource.UID != dsUID {
				t.Errorf("%s: query datasource %+v, want uid %s", where, q.Datasource, dsUID)
			}
			checkQuery(t, where, q.Expr, used)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		if v.Datasource.UID != dsUID {
			t.Errorf("variable %s: datasource %+v", v.Name, v.Datasource)
		}
		checkQuery(t, "variable "+v.Name, v.Definition, map[string]bool{})
	}

	// The panels the dashboard promises (examples/grafana brief).
	for _, m := range []string{
		"caddy_webhook_inbox_received_total",
		"caddy_webhook_inbox_deliveries_total",
		"caddy_webhook_inbox_delivery_duration_seconds_bucket",
		"caddy_webhook_inbox_queue_depth",
		"caddy_webhook_inbox_oldest_pending_seconds",
		"caddy_webhook_inbox_dead_letters",
		"caddy_webhook_inbox_target_up",
		"caddy_webhook_inbox_free_space_bytes",
	} {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
}

func TestDashboardQueryWords(t *testing.T) {
	tests := []struct {
		name string
		q    string
		want []string
	}{
		{
			name: "matchers, ranges and grouping are not metrics",
			q:    `sum by (target, le) (rate(caddy_webhook_inbox_delivery_duration_seconds_bucket{target=~"$target",le!="x"}[$__rate_interval]))`,
			want: []string{"sum", "rate", "caddy_webhook_inbox_delivery_duration_seconds_bucket"},
		},
		{
			name: "the label of label_values is not a metric",
			q:    `label_values(caddy_webhook_inbox_target_up, target)`,
			want: []string{"label_values", "caddy_webhook_inbox_target_up"},
		},
		{
			name: "a misspelt metric is a word",
			q:    `sum(caddy_webhook_inbox_queue_dept) or vector(0)`,
			want: []string{"sum", "caddy_webhook_inbox_queue_dept", "or", "vector"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := queryWords(tt.q); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// grafanaVars replaces the dashboard's variables with values Prometheus
// accepts, so promtool can parse the queries.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m",
	"$__interval", "1m",
	"$target", ".*",
	"$source", ".*",
)

// TestDashboardPromtool parses every panel query with promtool, as
// recording rules. Without promtool it skips, except in CI (CI set).
func TestDashboardPromtool(t *testing.T) {
	promtool := needPromtool(t)
	d := load(t)
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for _, p := range flatten(d.Panels) {
		for _, q := range p.Targets {
			expr, _ := json.Marshal(grafanaVars.Replace(q.Expr)) // a JSON string is a YAML string
			fmt.Fprintf(&rules, "      - record: dashboard:panel_%d_%s\n        expr: %s\n", p.ID, strings.ToLower(q.RefID), expr)
		}
	}
	file := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check rules: %v\n%s\n%s", err, out, rules.String())
	}
}

// needPromtool returns the path of promtool; see internal/testtool.
func needPromtool(t *testing.T) string {
	t.Helper()
	return testtool.Require(t, "promtool", "apt-get install -y --no-install-recommends prometheus, or a Prometheus release")
}
