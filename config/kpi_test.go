package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kpid/kpid/pipeline"
)

// kpiBase declares a github and a zendesk connector; the KPIs given to
// kpiConfig start at line 21.
const kpiBase = `teams: [platform, support]
people:
  - id: alice
    team: platform
    roles: [developer]
    github: alice-gh
connectors:
  - name: gh
    type: github
    schedule: "@every 15m"
    token: x
    repos: [a/b]
    lookback: 800d
  - name: zd
    type: zendesk
    schedule: "@every 15m"
    email: a@b.c
    token: x
    lookback: 800d
kpis:
`

func kpiConfig(kpis ...string) string {
	var b strings.Builder
	b.WriteString(kpiBase)
	for _, k := range kpis {
		b.WriteString("  - {" + k + "}\n")
	}
	return b.String()
}

func TestParseValue(t *testing.T) {
	tests := []struct {
		in      string
		unit    string
		want    float64
		wantErr string
	}{
		{in: "48h", unit: "seconds", want: 172800},
		{in: "2d", unit: "seconds", want: 172800},
		{in: "1h30m", unit: "seconds", want: 5400},
		{in: "3600", unit: "seconds", want: 3600},
		{in: "0.9", unit: "ratio", want: 0.9},
		{in: "90%", unit: "ratio", want: 0.9},
		{in: "12.5%", unit: "ratio", want: 0.125},
		{in: "1", unit: "ratio", want: 1},
		{in: "15", unit: "count", want: 15},
		{in: "150%", unit: "count", want: 1.5},
		{in: "250000.50", unit: "currency", want: 250000.5},
		{in: "-3", unit: "currency", want: -3},
		{in: " 20 ", unit: "points", want: 20},
		{in: "fast", unit: "seconds", wantErr: `"fast": want a duration (48h, 2d) or a number of seconds`},
		{in: "90%", unit: "seconds", wantErr: `"90%": a percentage makes no sense in seconds`},
		{in: "-1h", unit: "seconds", wantErr: `"-1h": a duration must not be negative`},
		{in: "48h", unit: "ratio", wantErr: `"48h": a duration needs a measure in seconds (these values are in shares (0..1))`},
		{in: "48h", unit: "count", wantErr: `"48h": a duration needs a measure in seconds (these values are in counts)`},
		{in: "90", unit: "ratio", wantErr: `"90": a share must be between 0 and 1 (write 0.9 or 90%)`},
		{in: "abc%", unit: "ratio", wantErr: `"abc%": want a number (15, 0.9) or a percentage (90%)`},
		{in: "NaN", unit: "count", wantErr: `"NaN": want a number`},
		{in: "", unit: "count", wantErr: `"": want a number`},
	}
	for _, tt := range tests {
		t.Run(tt.unit+"/"+tt.in, func(t *testing.T) {
			got, err := parseValue(tt.in, tt.unit)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseValue(%q, %s) = %v, %v; want error containing %q", tt.in, tt.unit, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseValue(%q, %s) = %v, %v; want %v", tt.in, tt.unit, got, err, tt.want)
			}
		})
	}
}

func TestKPIResolution(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	w := func(name string, days int) pipeline.Window {
		return pipeline.Window{Name: name, Duration: time.Duration(days) * Day}
	}
	tests := []struct {
		name string
		kpi  string
		want pipeline.KPI
	}{
		{
			name: "defaults",
			kpi:  "id: cycle, measure: github_pr_cycle_time_seconds, stat: p50, window: 28d",
			want: pipeline.KPI{ID: "cycle", Title: "cycle", Measure: "github_pr_cycle_time_seconds", Stat: "p50",
				Windows: []pipeline.Window{w("28d", 28)}, Direction: "lower", Scope: []string{"org", "team"}},
		},
		{
			name: "windows as written, target as duration",
			kpi:  "id: cycle, title: Cycle, measure: github_pr_cycle_time_seconds, stat: p90, windows: [1w, 4w, 90d], target: 2d, baseline: 365d",
			want: pipeline.KPI{ID: "cycle", Title: "Cycle", Measure: "github_pr_cycle_time_seconds", Stat: "p90",
				Windows: []pipeline.Window{w("1w", 7), w("4w", 28), w("90d", 90)}, Target: f(172800), Baseline: 365 * Day,
				Direction: "lower", Scope: []string{"org", "team"}},
		},
		{
			name: "fraction stats default to higher; threshold in the measure's unit, target a share",
			kpi:  "id: sla, measure: zendesk_first_reply_time_seconds, stat: fraction_le, threshold: 2h, window: 28d, target: 90%",
			want: pipeline.KPI{ID: "sla", Title: "sla", Measure: "zendesk_first_reply_time_seconds", Stat: "fraction_le", Threshold: 7200,
				Windows: []pipeline.Window{w("28d", 28)}, Target: f(0.9), Direction: "higher", Scope: []string{"org", "team"}},
		},
		{
			name: "explicit direction wins",
			kpi:  "id: sla, measure: zendesk_first_reply_time_seconds, stat: fraction_ge, threshold: 1d, window: 28d, direction: lower",
			want: pipeline.KPI{ID: "sla", Title: "sla", Measure: "zendesk_first_reply_time_seconds", Stat: "fraction_ge", Threshold: 86400,
				Windows: []pipeline.Window{w("28d", 28)}, Direction: "lower", Scope: []string{"org", "team"}},
		},
		{
			name: "count per week, overrides, metadata, filter",
			kpi: "id: merged, measure: github_pr_merged, stat: count, per: week, window: 28d, target: 5, " +
				"targets: {team:platform: 8, person:alice: 3}, category: delivery, kind: output, owner: EM, cadence: weekly, " +
				"description: merged PRs, scope: [org, team, person], roles: [developer], filter: {repo: a/b, environment: production}",
			want: pipeline.KPI{ID: "merged", Title: "merged", Measure: "github_pr_merged", Stat: "count", Per: "week",
				Windows: []pipeline.Window{w("28d", 28)}, Target: f(5), Targets: map[string]float64{"team:platform": 8, "person:alice": 3},
				Direction: "higher", Category: "delivery", Kind: "output", Owner: "EM", Cadence: "weekly", Description: "merged PRs",
				Scope: []string{"org", "team", "person"}, Roles: []string{"developer"}, Filter: map[string]string{"repo": "a/b", "environment": "production"}},
		},
		{
			name: "count of a seconds measure takes a plain number",
			kpi:  "id: n, measure: github_pr_cycle_time_seconds, stat: count, window: 7d, target: 10",
			want: pipeline.KPI{ID: "n", Title: "n", Measure: "github_pr_cycle_time_seconds", Stat: "count",
				Windows: []pipeline.Window{w("7d", 7)}, Target: f(10), Direction: "lower", Scope: []string{"org", "team"}},
		},
		{
			name: "sum of 0/1 samples is a count, not a share",
			kpi:  "id: rework, measure: github_pr_rework, stat: sum, per: month, window: 90d, target: 4",
			want: pipeline.KPI{ID: "rework", Title: "rework", Measure: "github_pr_rework", Stat: "sum", Per: "month",
				Windows: []pipeline.Window{w("90d", 90)}, Target: f(4), Direction: "lower", Scope: []string{"org", "team"}},
		},
		{
			name: "snapshot measure: stat defaults to count",
			kpi:  "id: backlog, measure: zendesk_backlog, window: 1d, target: 50",
			want: pipeline.KPI{ID: "backlog", Title: "backlog", Measure: "zendesk_backlog", Stat: "count",
				Windows: []pipeline.Window{w("1d", 1)}, Target: f(50), Direction: "lower", Scope: []string{"org", "team"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseString(kpiConfig(tt.kpi), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.KPIs) != 1 || !reflect.DeepEqual(cfg.KPIs[0], tt.want) {
				t.Errorf("kpi = %+v\nwant  %+v", cfg.KPIs, tt.want)
			}
		})
	}
}

func TestKPIProblems(t *testing.T) {
	const ok = "measure: github_pr_merged, stat: count, window: 28d"
	tests := []struct {
		name string
		kpis []string
		want []string
	}{
		{name: "missing id", kpis: []string{ok}, want: []string{"t.yaml:21: kpis[0].id: required"}},
		{name: "invalid id", kpis: []string{"id: PR-time, " + ok}, want: []string{`t.yaml:21: kpis[0].id: invalid kpi id "PR-time": use lowercase letters, digits and "_"`}},
		{name: "duplicate id", kpis: []string{"id: a, " + ok, "id: a, " + ok}, want: []string{`t.yaml:22: kpis[1].id: duplicate kpi id "a" (first at line 21)`}},
		{name: "unknown key", kpis: []string{"id: a, " + ok + ", treshold: 2"}, want: []string{`t.yaml:21: kpis[0].treshold: unknown key (did you mean "threshold"?)`}},
		{name: "missing measure", kpis: []string{"id: a, stat: count, window: 28d"}, want: []string{"t.yaml:21: kpis[0].measure: required"}},
		{name: "unknown measure", kpis: []string{"id: a, measure: github_pr_cycle_time, stat: p50, window: 28d"},
			want: []string{`t.yaml:21: kpis[0].measure: unknown measure "github_pr_cycle_time" (did you mean "github_pr_cycle_time_seconds"?)`}},
		{name: "measure without connector", kpis: []string{"id: a, measure: hubspot_deals_won, stat: count, window: 28d"},
			want: []string{`t.yaml:21: kpis[0].measure: measure "hubspot_deals_won" comes from hubspot, but no connector of type hubspot is configured`}},
		{name: "missing stat", kpis: []string{"id: a, measure: github_pr_merged, window: 28d"},
			want: []string{"t.yaml:21: kpis[0].stat: required (one of count, sum, mean, min, max, p50, p75, p90, p95, fraction_le, fraction_ge)"}},
		{name: "unknown stat", kpis: []string{"id: a, measure: github_pr_merged, stat: median, window: 28d", "id: b, measure: github_pr_merged, stat: p59, window: 28d"},
			want: []string{
				`t.yaml:21: kpis[0].stat: unknown stat "median" (want count, sum, mean, min, max, p50, p75, p90, p95, fraction_le, fraction_ge)`,
				`t.yaml:22: kpis[1].stat: unknown stat "p59" (did you mean "p50"?)`,
			}},
		{name: "windows", kpis: []string{
			"id: a, measure: github_pr_merged, stat: count",
			"id: b, " + ok + ", windows: [7d]",
			"id: c, measure: github_pr_merged, stat: count, windows: []",
			"id: d, measure: github_pr_merged, stat: count, windows: [7d, 1w, 0d, month]",
		},
			want: []string{
				`t.yaml:21: kpis[0].window: required (e.g. window: 28d, or windows: [7d, 28d, 90d])`,
				`t.yaml:22: kpis[1].windows: window and windows are mutually exclusive`,
				`t.yaml:23: kpis[2].windows: must not be empty`,
				`t.yaml:24: kpis[3].windows[1]: duplicate window "1w" (same as "7d")`,
				`t.yaml:24: kpis[3].windows[2]: window "0d" must be positive`,
				`t.yaml:24: kpis[3].windows[3]: invalid duration "month": want a number followed by a unit (ns, us, ms, s, m, h, d, w), e.g. 90d, 36h, 15m`,
			}},
		{name: "threshold rules", kpis: []string{
			"id: a, measure: zendesk_first_reply_time_seconds, stat: fraction_le, window: 28d",
			"id: b, measure: zendesk_first_reply_time_seconds, stat: p50, threshold: 2h, window: 28d",
			"id: c, measure: zendesk_first_reply_time_seconds, stat: fraction_ge, threshold: soon, window: 28d",
		},
			want: []string{
				`t.yaml:21: kpis[0].threshold: required with stat fraction_le (the value samples are compared with)`,
				`t.yaml:22: kpis[1].threshold: threshold is only used by stat fraction_le or fraction_ge`,
				`t.yaml:23: kpis[2].threshold: invalid threshold "soon": want a duration (48h, 2d) or a number of seconds`,
			}},
		{name: "per rules", kpis: []string{"id: a, measure: github_pr_reviewed, stat: mean, per: week, window: 28d", "id: b, " + ok + ", per: day"},
			want: []string{
				`t.yaml:21: kpis[0].per: per only applies to stat count or sum, not mean`,
				`t.yaml:22: kpis[1].per: unknown per "day" (want week, month)`,
			}},
		{name: "targets", kpis: []string{
			"id: a, measure: github_pr_reviewed, stat: mean, window: 28d, target: 90",
			"id: b, measure: github_pr_reviewed, stat: mean, window: 28d, target: 48h",
			"id: c, measure: github_pr_cycle_time_seconds, stat: p50, window: 28d, target: fast",
			"id: d, " + ok + ", targets: {squad:x: 1, team:sales: 2, person:bob: 3, team:platform: many, person:alice: 4}",
		},
			want: []string{
				`t.yaml:21: kpis[0].target: invalid target "90": a share must be between 0 and 1 (write 0.9 or 90%)`,
				`t.yaml:22: kpis[1].target: invalid target "48h": a duration needs a measure in seconds (these values are in shares (0..1)): want a number (15, 0.9) or a percentage (90%)`,
				`t.yaml:23: kpis[2].target: invalid target "fast": want a duration (48h, 2d) or a number of seconds`,
				`t.yaml:24: kpis[3].targets["person:bob"]: person "bob" is not in people`,
				`t.yaml:24: kpis[3].targets["squad:x"]: invalid target key "squad:x": want team:NAME or person:ID`,
				`t.yaml:24: kpis[3].targets["team:platform"]: invalid target "many": want a number (15, 0.9) or a percentage (90%)`,
				`t.yaml:24: kpis[3].targets["team:sales"]: team "sales" is not in teams`,
			}},
		{name: "enumerations", kpis: []string{"id: a, " + ok + ", direction: up, category: speed, kind: lagging, cadence: daily, scope: [org, everyone]"},
			want: []string{
				`t.yaml:21: kpis[0].direction: unknown direction "up" (want lower, higher)`,
				`t.yaml:21: kpis[0].category: unknown category "speed" (want delivery, quality, impact, flow, reliability)`,
				`t.yaml:21: kpis[0].kind: unknown kind "lagging" (want output, quality, leading)`,
				`t.yaml:21: kpis[0].cadence: unknown cadence "daily" (want weekly, monthly, quarterly)`,
				`t.yaml:21: kpis[0].scope[1]: unknown scope "everyone" (want org, team, person)`,
			}},
		{name: "suggestions for enumerations", kpis: []string{"id: a, " + ok + ", direction: lowr, cadence: weekyl"},
			want: []string{
				`t.yaml:21: kpis[0].direction: unknown direction "lowr" (did you mean "lower"?)`,
				`t.yaml:21: kpis[0].cadence: unknown cadence "weekyl" (did you mean "weekly"?)`,
			}},
		{name: "scope rules", kpis: []string{"id: a, " + ok + ", scope: []", "id: b, " + ok + ", scope: [team, team]"},
			want: []string{
				`t.yaml:21: kpis[0].scope: must not be empty (default [org, team])`,
				`t.yaml:22: kpis[1].scope[1]: duplicate scope "team"`,
			}},
		{name: "filter labels of the source", kpis: []string{"id: a, " + ok + ", filter: {repo: a/b, queue: x}", "id: b, measure: zendesk_csat, stat: mean, window: 28d, filter: {group: '1', repo: a/b}"},
			want: []string{
				`t.yaml:21: kpis[0].filter.queue: unknown label "queue" for github measures (labels: repo, environment)`,
				`t.yaml:22: kpis[1].filter.repo: unknown label "repo" for zendesk measures (labels: priority, group)`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseString(kpiConfig(tt.kpis...), nil, nil)
			if got := problemLines(t, err); !equalLines(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestRetention(t *testing.T) {
	const kpi = "  - id: cycle\n    measure: github_pr_cycle_time_seconds\n    stat: p50\n    windows: [28d, 90d]\n    baseline: 365d\n"
	const snapshot = "  - {id: open, measure: github_prs_open, window: 3000d}\n"
	tests := []struct {
		name    string
		storage string
		kpis    string
		want    []string
	}{
		{name: "default retention holds window + baseline", kpis: kpi},
		{name: "exactly enough", storage: "storage: {retention: 455d}\n", kpis: kpi},
		{name: "retention written too short", storage: "storage:\n  retention: 400d\n", kpis: kpi,
			want: []string{`t.yaml:2: storage.retention: retention 400d is shorter than the history the KPIs need: kpi "cycle" needs window 90d + baseline 365d = 455d of history`}},
		{name: "default retention too short: reported at the baseline", kpis: strings.Replace(kpi, "365d", "700d", 1),
			want: []string{`t.yaml:25: kpis[0].baseline: kpi "cycle" needs window 90d + baseline 700d = 790d of history, more than storage.retention (default 730d): raise storage.retention or shorten the baseline`}},
		{name: "snapshot windows need no history", kpis: snapshot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.storage + kpiBase + tt.kpis
			_, err := parseString(src, nil, nil)
			if got := problemLines(t, err); !equalLines(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
