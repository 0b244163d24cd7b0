package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kpid/kpid/pipeline"
)

// lintBase has one zendesk connector (lookback at line 6); KPIs start at
// line 8.
const lintBase = `connectors:
  - name: zd
    type: zendesk
    schedule: "@hourly"
    email: a@b.c
    lookback: 800d
    token: x
kpis:
`

// supportKPI is a lint-clean person-scope KPI of role support.
func supportKPI(id, kind string, extra ...string) string {
	fields := append([]string{
		"id: " + id, "measure: zendesk_csat", "stat: mean", "window: 28d", "target: 90%", "baseline: 365d",
		"owner: Support lead", "cadence: monthly", "category: quality", "kind: " + kind,
		"scope: [org, team, person]", "roles: [support]",
	}, extra...)
	return "  - {" + strings.Join(fields, ", ") + "}\n"
}

func TestLint(t *testing.T) {
	clean := supportKPI("out", "output") + supportKPI("qual", "quality") + supportKPI("lead", "leading")
	team := func(id string) string {
		return fmt.Sprintf("  - {id: %s, measure: zendesk_csat, stat: mean, window: 28d, target: 0.9, owner: o, cadence: weekly, kind: quality, roles: [support]}\n", id)
	}
	tests := []struct {
		name  string
		kpis  string
		base  string
		want  []string
		check func(*testing.T, []pipeline.KPI)
	}{
		{name: "clean", kpis: clean},
		{
			name: "more than 3 person-scope KPIs in a role",
			kpis: clean + supportKPI("extra", "quality"),
			want: []string{`t.yaml:12: kpis[3].roles: role "support" has 4 KPIs at person scope (out, qual, lead, extra): keep at most 3, one output, one quality and one leading`},
		},
		{
			name: "more than 7 KPIs in a role",
			kpis: clean + team("t1") + team("t2") + team("t3") + team("t4") + team("t5"),
			want: []string{`t.yaml:16: kpis[7].roles: role "support" has 8 KPIs (out, qual, lead, t1, t2, t3, t4, t5): keep at most 7`},
		},
		{
			name: "a role without output, quality or leading KPI",
			kpis: supportKPI("a", "quality") +
				"  - {id: b, measure: zendesk_csat, stat: mean, window: 28d, target: 0.9, owner: o, cadence: weekly, kind: leading, roles: [sdr]}\n",
			want: []string{
				`t.yaml:9: kpis[0].roles: role "support" has no output KPI (a role needs one output, one quality and one leading KPI)`,
				`t.yaml:9: kpis[0].roles: role "support" has no leading KPI (a role needs one output, one quality and one leading KPI)`,
				`t.yaml:10: kpis[1].roles: role "sdr" has no output KPI (a role needs one output, one quality and one leading KPI)`,
				`t.yaml:10: kpis[1].roles: role "sdr" has no quality KPI (a role needs one output, one quality and one leading KPI)`,
			},
		},
		{
			name: "KPI without target nor baseline, owner or cadence",
			kpis: "  - {id: bare, measure: zendesk_csat, stat: mean, window: 28d}\n" +
				"  - {id: overrides_count_as_target, measure: zendesk_csat, stat: mean, window: 28d, targets: {team:x: 0.9}, owner: o, cadence: weekly}\n",
			want: []string{
				`t.yaml:9: kpis[0]: kpi "bare" has neither a target nor a baseline: measure a baseline first, then set the target`,
				`t.yaml:9: kpis[0]: kpi "bare" has no owner`,
				`t.yaml:9: kpis[0]: kpi "bare" has no review cadence (weekly, monthly or quarterly)`,
			},
		},
		{
			name: "lookback shorter than window + baseline",
			kpis: clean,
			base: strings.Replace(lintBase, "lookback: 800d", "lookback: 180d", 1),
			want: []string{`t.yaml:6: connectors[0].lookback: lookback 180d is shorter than kpi "out"'s window 28d + baseline 365d (393d): the baseline would cover less history than it says`},
		},
		{
			name: "default lookback, located at the entry",
			kpis: clean,
			base: strings.Replace(lintBase, "    lookback: 800d\n", "", 1),
			want: []string{`t.yaml:2: connectors[0].lookback: lookback 90d is shorter than kpi "out"'s window 28d + baseline 365d (393d): the baseline would cover less history than it says`},
		},
		{
			// SPEC §4.2: a snapshot is exposed with stat count whatever the
			// KPI asks; it takes no per and no baseline.
			name: "snapshot measure asked for another stat, per, baseline or threshold",
			kpis: clean +
				"  - {id: snap_a, measure: zendesk_backlog, stat: p50, window: 28d, target: 10, owner: o, cadence: weekly}\n" +
				"  - {id: snap_b, measure: zendesk_backlog, per: week, baseline: 90d, window: 28d, target: 10, owner: o, cadence: weekly}\n" +
				"  - {id: snap_c, measure: zendesk_backlog, stat: fraction_le, threshold: 3, window: 28d, owner: o, cadence: weekly}\n",
			want: []string{
				`t.yaml:12: kpis[3].stat: measure "zendesk_backlog" is a snapshot of open items: it is counted (stat count), not p50`,
				`t.yaml:13: kpis[4].per: measure "zendesk_backlog" is a snapshot of open items: per does not apply, the open items are counted`,
				`t.yaml:13: kpis[4].baseline: measure "zendesk_backlog" is a snapshot of open items: it takes no baseline (ignored)`,
				`t.yaml:14: kpis[5].stat: measure "zendesk_backlog" is a snapshot of open items: it is counted (stat count), not fraction_le`,
				`t.yaml:14: kpis[5].threshold: measure "zendesk_backlog" is a snapshot of open items: threshold is not used`,
				`t.yaml:14: kpis[5]: kpi "snap_c" has no target (a snapshot of open items takes no baseline: set a target from its current value)`,
			},
			check: func(t *testing.T, kpis []pipeline.KPI) {
				for _, k := range kpis[3:] {
					if k.Stat != pipeline.StatCount || k.Per != "" || k.Baseline != 0 {
						t.Errorf("kpi %s: stat %q, per %q, baseline %v; want count, none, 0", k.ID, k.Stat, k.Per, k.Baseline)
					}
				}
			},
		},
		{
			name: "person scope on an impact KPI",
			kpis: clean + "  - {id: impact, measure: zendesk_csat, stat: mean, window: 28d, target: 0.9, owner: o, cadence: monthly, category: impact, scope: [org, person]}\n",
			want: []string{`t.yaml:12: kpis[3].scope: kpi "impact": person scope on an impact KPI (impact belongs to teams)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.base
			if base == "" {
				base = lintBase
			}
			cfg, err := parseString(base+tt.kpis, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !equalLines(cfg.Warnings, tt.want) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(cfg.Warnings, "\n"), strings.Join(tt.want, "\n"))
			}
			if tt.check != nil {
				tt.check(t, cfg.KPIs)
			}
		})
	}
}
