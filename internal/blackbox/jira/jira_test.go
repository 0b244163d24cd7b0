// Package jira is a black-box acceptance test of kpid's Jira Cloud
// connector: the real binary runs against a fake Jira Cloud written from
// Atlassian's REST v3 reference (fakeJira, below), over a hand-made dataset
// (dataset and later, at the end), and every kpi_* series of every jira_*
// KPI is compared with values worked out by hand from SPEC §3.4, §4.1,
// §4.2, §5.2 and §6. It does not use kpid's own simulator (internal/sim).
package jira

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/kpid/kpid/internal/blackbox"
)

// unestimated is the weight of a done issue whose points field is empty
// while points_field is set: SPEC §4.1's row for jira_issues_done reads
// "points (1 if no points field)", the rule written for exactly this case
// (as for a connector without points_field, §2).
const unestimated = 1.0

const config = `
teams: [platform, ops, data, sales, web]
people:
  - {id: alice, name: Alice Smith, team: platform, roles: [developer], jira: "5b10ac8d82e05b22cc7d4ef5"}
  - {id: bob, team: platform, roles: [developer], jira: "5b10a0effa615349cb016cd8"}
  - {id: carol, team: ops, roles: [developer], jira: "712020:0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7"}
  - {id: frank, team: ops, roles: [developer], jira: frank@acme.com}
  - {id: erin, team: sales, roles: [sdr], jira: "5c3d9e8f7a6b5c4d3e2f1a0b"}
  - {id: dave, team: web, roles: [developer], github: dave-gh}
connectors:
  - name: acme-jira
    type: jira
    schedule: "@every 1h"
    base_url: BASE_URL
    flavor: cloud
    email: ops@acme.com
    token: tok-jira-9f8e7d
    lookback: 180d
    jql: project in (ENG, OPS, MISC, DATA)
    points_field: Story Points
    teams: {ENG: platform, OPS: ops, DATA: data}
kpis:
  - id: issues_done
    measure: jira_issues_done
    stat: sum
    per: week
    window: 28d
    baseline: 28d
    target: 5
    targets: {"team:ops": 2, "person:alice": 4}
    scope: [org, team, person]
    roles: [developer]
  - id: done_count
    measure: jira_issues_done
    stat: count
    window: 28d
    baseline: 56d
    scope: [org, team, person]
  - id: done_bugs
    measure: jira_issues_done
    stat: count
    window: 28d
    filter: {issue_type: Bug}
    scope: [org, team]
  - id: cycle
    measure: jira_cycle_time_seconds
    stat: p50
    window: 28d
    baseline: 28d
    target: 3d
    scope: [org, team, person]
    roles: [developer]
  - id: cycle_fast_eng
    measure: jira_cycle_time_seconds
    stat: fraction_le
    threshold: 4d
    window: 28d
    target: 50%
    filter: {project: ENG}
    scope: [org, team]
    roles: [developer]
  - id: lead
    measure: jira_lead_time_seconds
    stat: mean
    windows: [7d, 28d]
    scope: [org, team, person]
    roles: [developer]
  - id: lead_p90
    measure: jira_lead_time_seconds
    stat: p90
    window: 28d
    scope: [team]
    roles: [developer]
  - id: on_time
    measure: jira_done_on_time
    stat: mean
    window: 28d
    target: 80%
    targets: {"team:ops": 0.5}
    scope: [org, team]
  - id: reopen
    measure: jira_issue_reopened
    stat: mean
    window: 28d
    baseline: 28d
    target: 0.15
    scope: [org, team]
    roles: [developer]
  - id: wip
    measure: jira_wip
    stat: count
    window: 28d
    target: 3
    targets: {"team:platform": 2}
    scope: [org, team, person]
    roles: [developer]
  - id: wip_any_stat
    measure: jira_wip
    stat: mean
    window: 7d
    scope: [org]
`

// no marks a series that must not exist.
var no = math.NaN()

// want is an expected set of kpi_* series of one KPI.
type want map[string]float64

// s adds the series of one scope: kpi_value, kpi_samples, kpi_target,
// kpi_on_target, kpi_baseline (no: absent). Person series carry the
// person's team.
func (w want) s(kpi, window, team, person string, value, samples, target, onTarget, baseline float64) {
	for name, v := range map[string]float64{"kpi_value": value, "kpi_samples": samples, "kpi_target": target,
		"kpi_on_target": onTarget, "kpi_baseline": baseline} {
		if !math.IsNaN(v) {
			w[blackbox.Key(name, "kpi", kpi, "window", window, "team", team, "person", person)] = v
		}
	}
}

func approx(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

func compare(t *testing.T, id string, got map[string]float64, exp want) {
	t.Helper()
	var diffs []string
	for k, v := range exp {
		g, ok := got[k]
		switch {
		case !ok:
			diffs = append(diffs, "missing "+k+" (want "+ftoa(v)+")")
		case !approx(g, v):
			diffs = append(diffs, k+" = "+ftoa(g)+", want "+ftoa(v))
		}
	}
	for k, v := range got {
		if _, ok := exp[k]; !ok {
			diffs = append(diffs, "unexpected "+k+" = "+ftoa(v))
		}
	}
	sort.Strings(diffs)
	for _, d := range diffs {
		t.Errorf("%s: %s", id, d)
	}
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func TestJiraCloudKPIs(t *testing.T) {
	fake, up := newFakeJira(t, dataset(), siteUsers)
	d := blackbox.Start(t, strings.Replace(config, "BASE_URL", up.URL, 1), now)
	m := d.WaitSynced(t, "acme-jira")
	if v := m.Value("kpid_connector_up", "connector", "acme-jira"); v != 1 {
		t.Errorf("kpid_connector_up = %v", v)
	}
	// The truncated changelogs (ENG-2, ENG-3, ENG-7: more histories than
	// the search embeds) were completed through bulkfetch; the complete
	// ones were not asked for.
	asked := map[string]bool{}
	fake.mu.Lock()
	for k, v := range fake.bulkAsked {
		asked[k] = v
	}
	fake.mu.Unlock()
	for _, key := range []string{"ENG-2", "ENG-3", "ENG-7"} {
		if !asked[key] {
			t.Errorf("the truncated changelog of %s was not fetched with POST /rest/api/3/changelog/bulkfetch", key)
		}
	}
	for key := range asked {
		if key != "ENG-2" && key != "ENG-3" && key != "ENG-7" {
			t.Errorf("bulkfetch asked for %s, whose embedded changelog is complete", key)
		}
	}

	checkRequests(t, fake)

	W := unestimated
	const d28, d7 = "28d", "7d"

	// Samples in the 28d window (time, person/team), from SPEC §4.1
	// (done time: resolutiondate, else the last entry into done):
	//   issue   done at        who            points  cycle     lead          on time  reopened
	//   ENG-1   02-12T09:00    alice/platform 3       —         2d=172800     —        0
	//   ENG-2   02-09T08:00    bob/platform   5       5d=432000 6d=518400     1        0
	//   ENG-3   02-19T10:00    alice/platform 2       4d=345600 5d=432000     0        1
	//   OPS-1   02-23T09:00    carol/ops      W       2d=172800 3d=259200     —        1
	//   ENG-7   02-25T10:00    alice/platform 8       34d=2937600 36d=3110400 1        0
	//   ENG-8   02-20T23:30    bob/platform   1       3d14h30m=311400 4d14h30m=397800 0 0
	//   ENG-9   02-26T22:45    alice/platform W       2d10h45m=211500 3d10h45m=297900 1 0
	//   MISC-1  02-13T12:00    —/—            2       2d=172800 3d=259200     1        0
	//   OPS-2   02-27T10:00    —/ops          3       1d=86400  26h=93600     0        0
	//   ENG-11  03-02T12:00    bob/platform   1       1d=86400  2d=172800     —        0
	//   ENG-12  02-02T12:00:00.001 carol/ops  2       —         2d+1ms=172800.001 —    0
	//   OPS-5   02-24T16:00    frank/ops      2       6h=21600  7h=25200      1        0
	// Baseline periods: ENG-10 (02-02T12:00, alice, 5 pts, cycle 2d=172800,
	// lead 3d), ENG-13 (01-15, alice, 3 pts, cycle 3d=259200, lead 5d),
	// OPS-3 (01-21, carol, 2 pts, no cycle, lead 1d); ENG-14 (01-05T12:00,
	// alice, 13 pts) only in the 56d one.
	// Not done: ENG-4 (reopened, in progress), ENG-5 (resolved, Ready to
	// Ship), ENG-15, OPS-4, DATA-1, ENG-16 (in progress), ENG-17 (To Do).
	// WIP now: ENG-4 bob/platform, ENG-15 alice/platform, OPS-4 —/ops,
	// DATA-1 —/data, ENG-16 erin/sales.
	//
	// Scopes (SPEC §6.1), roles [developer]: people alice, bob (platform),
	// carol, frank (ops) — not erin (sdr), not dave (no jira identity);
	// teams platform, ops (people), data (connector mapping), plus any team
	// on a sample of the measure (sales on jira_wip, through erin). No
	// roles: erin too, and her team sales. Never web (dave).

	t.Run("issues_done", func(t *testing.T) {
		// sum per week over 28d: ÷ 4. Baseline (28d period) ÷ 4 weeks.
		// Targets: 5; team ops 2 (also on ops people's series); alice 4.
		// With W = 0: org 29/4 = 7.25 (≥ 5: 1), platform 20/4 = 5 (≥ 5: 1),
		// ops 7/4 = 1.75 (< 2: 0), alice 13/4 = 3.25 (< 4: 0), carol 0.5.
		w := want{}
		w.s("issues_done", d28, "", "", (29+2*W)/4, 12, 5, b((29+2*W)/4 >= 5), (5+3+2)/4.0)       // 3+5+2+W+8+1+W+2+3+1+2+2
		w.s("issues_done", d28, "platform", "", (20+W)/4, 7, 5, b((20+W)/4 >= 5), (5+3)/4.0)      // 3+5+2+8+1+W+1
		w.s("issues_done", d28, "ops", "", (7+W)/4, 4, 2, b((7+W)/4 >= 2), 2/4.0)                 // W+3+2+2
		w.s("issues_done", d28, "data", "", 0, 0, 5, 0, 0)                                        // sum of nothing is 0
		w.s("issues_done", d28, "platform", "alice", (13+W)/4, 4, 4, b((13+W)/4 >= 4), (5+3)/4.0) // 3+2+8+W
		w.s("issues_done", d28, "platform", "bob", 7/4.0, 3, 5, 0, 0)                             // 5+1+1
		w.s("issues_done", d28, "ops", "carol", (2+W)/4, 2, 2, b((2+W)/4 >= 2), 2/4.0)            // W+2
		w.s("issues_done", d28, "ops", "frank", 2/4.0, 1, 2, 0, 0)
		compare(t, "issues_done", m.KPI("issues_done"), w)
	})

	t.Run("done_count", func(t *testing.T) {
		// count over 28d, no target; baseline 56d scaled by 28/56.
		w := want{}
		w.s("done_count", d28, "", "", 12, 12, no, no, 4*28/56.0) // ENG-10, ENG-13, OPS-3, ENG-14
		w.s("done_count", d28, "platform", "", 7, 7, no, no, 3*28/56.0)
		w.s("done_count", d28, "ops", "", 4, 4, no, no, 1*28/56.0)
		w.s("done_count", d28, "data", "", 0, 0, no, no, 0)
		w.s("done_count", d28, "sales", "", 0, 0, no, no, 0)
		w.s("done_count", d28, "platform", "alice", 4, 4, no, no, 3*28/56.0)
		w.s("done_count", d28, "platform", "bob", 3, 3, no, no, 0)
		w.s("done_count", d28, "ops", "carol", 2, 2, no, no, 1*28/56.0)
		w.s("done_count", d28, "ops", "frank", 1, 1, no, no, 0)
		w.s("done_count", d28, "sales", "erin", 0, 0, no, no, 0)
		compare(t, "done_count", m.KPI("done_count"), w)
	})

	t.Run("done_bugs", func(t *testing.T) {
		// issue_type Bug: ENG-2, ENG-8 (bob/platform), OPS-2 (ops).
		w := want{}
		w.s("done_bugs", d28, "", "", 3, 3, no, no, no)
		w.s("done_bugs", d28, "platform", "", 2, 2, no, no, no)
		w.s("done_bugs", d28, "ops", "", 1, 1, no, no, no)
		w.s("done_bugs", d28, "data", "", 0, 0, no, no, no)
		w.s("done_bugs", d28, "sales", "", 0, 0, no, no, no)
		compare(t, "done_bugs", m.KPI("done_bugs"), w)
	})

	t.Run("cycle", func(t *testing.T) {
		// p50 (numpy linear), target 3d = 259200 (lower).
		// org sorted: 21600 86400 86400 172800 172800 211500 311400 345600
		//   432000 2937600; h = 9×0.5 = 4.5 → 172800 + 0.5×(211500−172800) = 192150
		// platform: 86400 211500 311400 345600 432000 2937600; h = 2.5 →
		//   311400 + 0.5×34200 = 328500
		// ops: 21600 86400 172800 → 86400
		// alice: 211500 345600 2937600 → 345600; bob: 86400 311400 432000 →
		//   311400; carol 172800; frank 21600
		// baseline: ENG-10 172800, ENG-13 259200 → 216000 (org, platform,
		//   alice); no sample elsewhere → no kpi_baseline.
		w := want{}
		w.s("cycle", d28, "", "", 192150, 10, 259200, 1, 216000)
		w.s("cycle", d28, "platform", "", 328500, 6, 259200, 0, 216000)
		w.s("cycle", d28, "ops", "", 86400, 3, 259200, 1, no)
		w.s("cycle", d28, "data", "", no, 0, 259200, no, no)
		w.s("cycle", d28, "platform", "alice", 345600, 3, 259200, 0, 216000)
		w.s("cycle", d28, "platform", "bob", 311400, 3, 259200, 0, no)
		w.s("cycle", d28, "ops", "carol", 172800, 1, 259200, 1, no)
		w.s("cycle", d28, "ops", "frank", 21600, 1, 259200, 1, no)
		compare(t, "cycle", m.KPI("cycle"), w)
	})

	t.Run("cycle_fast_eng", func(t *testing.T) {
		// project ENG cycle samples: 432000 345600 2937600 311400 211500
		// 86400 (all platform); ≤ 4d = 345600 (inclusive): 345600 311400
		// 211500 86400 → 4/6. Target 0.5 (higher).
		w := want{}
		w.s("cycle_fast_eng", d28, "", "", 4/6.0, 6, 0.5, 1, no)
		w.s("cycle_fast_eng", d28, "platform", "", 4/6.0, 6, 0.5, 1, no)
		w.s("cycle_fast_eng", d28, "ops", "", no, 0, 0.5, no, no)
		w.s("cycle_fast_eng", d28, "data", "", no, 0, 0.5, no, no)
		compare(t, "cycle_fast_eng", m.KPI("cycle_fast_eng"), w)
	})

	t.Run("lead", func(t *testing.T) {
		w := want{}
		// 28d means.
		// org: (172800+518400+432000+259200+3110400+397800+297900+259200
		//   +93600+172800+172800.001+25200) / 12 = 5912100.001 / 12
		w.s("lead", d28, "", "", 5912100.001/12, 12, no, no, no)
		// platform: (172800+518400+432000+3110400+397800+297900+172800)/7
		w.s("lead", d28, "platform", "", 5102100/7.0, 7, no, no, no)
		// ops: (259200+93600+172800.001+25200)/4
		w.s("lead", d28, "ops", "", 550800.001/4, 4, no, no, no)
		w.s("lead", d28, "data", "", no, 0, no, no, no)
		w.s("lead", d28, "platform", "alice", (172800+432000+3110400+297900)/4.0, 4, no, no, no) // 1003275
		w.s("lead", d28, "platform", "bob", (518400+397800+172800)/3.0, 3, no, no, no)           // 363000
		w.s("lead", d28, "ops", "carol", (259200+172800.001)/2, 2, no, no, no)
		w.s("lead", d28, "ops", "frank", 25200, 1, no, no, no)
		// 7d window (02-23T12:00, 03-02T12:00]: ENG-7 3110400, ENG-9
		// 297900, OPS-2 93600, ENG-11 172800, OPS-5 25200 (OPS-1 at
		// 02-23T09:00 is out).
		w.s("lead", d7, "", "", (3110400+297900+93600+172800+25200)/5.0, 5, no, no, no) // 739980
		w.s("lead", d7, "platform", "", (3110400+297900+172800)/3.0, 3, no, no, no)     // 1193700
		w.s("lead", d7, "ops", "", (93600+25200)/2.0, 2, no, no, no)                    // 59400
		w.s("lead", d7, "data", "", no, 0, no, no, no)
		w.s("lead", d7, "platform", "alice", (3110400+297900)/2.0, 2, no, no, no) // 1704150
		w.s("lead", d7, "platform", "bob", 172800, 1, no, no, no)
		w.s("lead", d7, "ops", "carol", no, 0, no, no, no)
		w.s("lead", d7, "ops", "frank", 25200, 1, no, no, no)
		compare(t, "lead", m.KPI("lead"), w)
	})

	t.Run("lead_p90", func(t *testing.T) {
		// team scope only: no org series.
		// platform sorted: 172800 172800 297900 397800 432000 518400 3110400;
		//   h = 6×0.9 = 5.4 → 518400 + 0.4×(3110400−518400) = 1555200
		// ops sorted: 25200 93600 172800.001 259200; h = 3×0.9 = 2.7 →
		//   172800.001 + 0.7×(259200−172800.001) = 233280.0003
		w := want{}
		w.s("lead_p90", d28, "platform", "", 1555200, 7, no, no, no)
		w.s("lead_p90", d28, "ops", "", 172800.001+0.7*(259200-172800.001), 4, no, no, no)
		w.s("lead_p90", d28, "data", "", no, 0, no, no, no)
		compare(t, "lead_p90", m.KPI("lead_p90"), w)
	})

	t.Run("on_time", func(t *testing.T) {
		// Done issues with a due date: ENG-2 1, ENG-3 0, ENG-7 1, ENG-8 0
		// (late in Berlin), ENG-9 1, MISC-1 1, OPS-2 0, OPS-5 1.
		// org 5/8; platform (ENG-2, -3, -7, -8, -9) 3/5; ops (OPS-2, OPS-5)
		// 1/2. Target 0.8, team ops 0.5. No roles: sales is a team too.
		w := want{}
		w.s("on_time", d28, "", "", 5/8.0, 8, 0.8, 0, no)
		w.s("on_time", d28, "platform", "", 3/5.0, 5, 0.8, 0, no)
		w.s("on_time", d28, "ops", "", 0.5, 2, 0.5, 1, no)
		w.s("on_time", d28, "data", "", no, 0, 0.8, no, no)
		w.s("on_time", d28, "sales", "", no, 0, 0.8, no, no)
		compare(t, "on_time", m.KPI("on_time"), w)
	})

	t.Run("reopen", func(t *testing.T) {
		// reopened: ENG-3 and OPS-1 of 12 done issues; platform 1/7 (ENG-3);
		// ops 1/4 (OPS-1). Baseline: ENG-10, ENG-13, OPS-3 all 0. Target
		// 0.15 (lower).
		w := want{}
		w.s("reopen", d28, "", "", 2/12.0, 12, 0.15, 0, 0)
		w.s("reopen", d28, "platform", "", 1/7.0, 7, 0.15, 1, 0)
		w.s("reopen", d28, "ops", "", 1/4.0, 4, 0.15, 0, 0)
		w.s("reopen", d28, "data", "", no, 0, 0.15, no, no)
		compare(t, "reopen", m.KPI("reopen"), w)
	})

	t.Run("wip", func(t *testing.T) {
		// Snapshot (SPEC §4.2): 5 issues in an in-progress status now.
		// Target 3 (lower), team platform 2 (also alice's and bob's).
		w := want{}
		w.s("wip", d28, "", "", 5, 5, 3, 0, no)
		w.s("wip", d28, "platform", "", 2, 2, 2, 1, no) // ENG-4, ENG-15
		w.s("wip", d28, "ops", "", 1, 1, 3, 1, no)      // OPS-4
		w.s("wip", d28, "data", "", 1, 1, 3, 1, no)     // DATA-1, outside the lookback
		w.s("wip", d28, "sales", "", 1, 1, 3, 1, no)    // ENG-16, erin's team
		w.s("wip", d28, "platform", "alice", 1, 1, 2, 1, no)
		w.s("wip", d28, "platform", "bob", 1, 1, 2, 1, no)
		w.s("wip", d28, "ops", "carol", 0, 0, 3, 1, no)
		w.s("wip", d28, "ops", "frank", 0, 0, 3, 1, no)
		compare(t, "wip", m.KPI("wip"), w)
	})

	t.Run("kpi_info", func(t *testing.T) {
		// unit and direction (SPEC §5.2; defaults §4.1: higher for
		// jira_issues_done and jira_done_on_time and for fraction_*, lower
		// for the others). A snapshot is exposed with stat count (§4.2).
		for _, c := range []struct{ id, measure, stat, unit, direction string }{
			{"issues_done", "jira_issues_done", "sum", "points", "higher"},
			{"done_count", "jira_issues_done", "count", "count", "higher"},
			{"done_bugs", "jira_issues_done", "count", "count", "higher"},
			{"cycle", "jira_cycle_time_seconds", "p50", "seconds", "lower"},
			{"cycle_fast_eng", "jira_cycle_time_seconds", "fraction_le", "ratio", "higher"},
			{"lead", "jira_lead_time_seconds", "mean", "seconds", "lower"},
			{"lead_p90", "jira_lead_time_seconds", "p90", "seconds", "lower"},
			{"on_time", "jira_done_on_time", "mean", "ratio", "higher"},
			{"reopen", "jira_issue_reopened", "mean", "ratio", "lower"},
			{"wip", "jira_wip", "count", "count", "lower"},
			{"wip_any_stat", "jira_wip", "count", "count", "lower"},
		} {
			k := blackbox.Key("kpi_info", "kpi", c.id, "title", c.id, "measure", c.measure, "stat", c.stat,
				"unit", c.unit, "direction", c.direction)
			if v, ok := m[k]; !ok || v != 1 {
				var have []string
				for x := range m {
					if strings.HasPrefix(x, "kpi_info{") && strings.Contains(x, `kpi="`+c.id+`"`) {
						have = append(have, x)
					}
				}
				t.Errorf("missing %s = 1; have %v", k, have)
			}
		}
	})

	t.Run("wip_any_stat", func(t *testing.T) {
		// A snapshot is a count whatever the stat (SPEC §4.2).
		w := want{}
		w.s("wip_any_stat", d7, "", "", 5, 5, no, no, no)
		compare(t, "wip_any_stat", m.KPI("wip_any_stat"), w)
	})
}

// b is 1 for true, 0 for false.
func b(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}

const configIncremental = `
teams: [platform, ops, data, sales, web]
people:
  - {id: alice, team: platform, roles: [developer], jira: "5b10ac8d82e05b22cc7d4ef5"}
  - {id: bob, team: platform, roles: [developer], jira: "5b10a0effa615349cb016cd8"}
  - {id: carol, team: ops, roles: [developer], jira: "712020:0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7"}
  - {id: frank, team: ops, roles: [developer], jira: frank@acme.com}
  - {id: erin, team: sales, roles: [sdr], jira: "5c3d9e8f7a6b5c4d3e2f1a0b"}
  - {id: dave, team: web, roles: [developer], github: dave-gh}
connectors:
  - name: acme-jira
    type: jira
    schedule: "@every 1s"
    base_url: BASE_URL
    email: ops@acme.com
    token: tok-jira-9f8e7d
    lookback: 180d
    jql: project in (ENG, OPS, MISC, DATA)
    timezone: America/New_York
    teams: {ENG: platform, OPS: ops, DATA: data}
kpis:
  - {id: done_count, measure: jira_issues_done, stat: count, window: 28d, scope: [org, team, person], roles: [developer]}
  - {id: done_sum, measure: jira_issues_done, stat: sum, window: 28d, scope: [org]}
  - {id: done_ops, measure: jira_issues_done, stat: count, window: 28d, scope: [org], filter: {project: OPS}}
  - {id: cycle, measure: jira_cycle_time_seconds, stat: p50, window: 28d, scope: [org]}
  - {id: on_time, measure: jira_done_on_time, stat: mean, window: 28d, scope: [org, team], roles: [developer]}
  - {id: wip, measure: jira_wip, stat: count, window: 28d, scope: [org, team, person], roles: [developer]}
`

// TestJiraCloudIncremental runs syncs every second against a site that
// changes after the first one (see later): the changes, updated a few
// minutes before the newest issue kpid has seen, must be read by the
// next sync (SPEC §3: overlap) and replace the samples of the issues they
// touch (SPEC §4); the WIP snapshot follows the latest listing (§4.2).
// Without points_field every done issue weighs 1; with timezone set, due
// dates end in that zone (§2).
func TestJiraCloudIncremental(t *testing.T) {
	fake, up := newFakeJira(t, dataset(), siteUsers)
	fake.then = later
	fake.throttle = true
	d := blackbox.Start(t, strings.Replace(configIncremental, "BASE_URL", up.URL, 1), now)
	d.WaitSynced(t, "acme-jira")
	// The change happens at the end of the first sync; the snapshot built
	// after the third holds what the second read.
	var m blackbox.Metrics
	deadline := time.Now().Add(20 * time.Second)
	for {
		m = d.Scrape(t)
		if m.Value("kpid_connector_syncs_total", "connector", "acme-jira", "result", "success") >= 3 {
			break
		}
		if m.Value("kpid_connector_syncs_total", "connector", "acme-jira", "result", "error") > 0 {
			t.Fatal("a sync failed")
		}
		if time.Now().After(deadline) {
			t.Fatal("kpid did not sync three times")
		}
		time.Sleep(50 * time.Millisecond)
	}
	fake.mu.Lock()
	switched := fake.switched
	fake.mu.Unlock()
	if !switched {
		t.Fatal("the site never changed")
	}
	// The 429 was waited out and retried (SPEC §3, §5.3). (Under
	// --debug.fake-now the HTTP layer's clock is frozen too, so kpid also
	// holds the retried request for the recorded reset: more than the
	// Retry-After second is waited.)
	if v := m.Value("kpid_upstream_requests_total", "connector", "acme-jira", "code", "429"); v != 1 {
		t.Errorf(`kpid_upstream_requests_total{code="429"} = %v, want 1`, v)
	}
	if v := m.Value("kpid_upstream_retries_total", "connector", "acme-jira", "reason", "rate_limited"); v != 1 {
		t.Errorf(`kpid_upstream_retries_total{reason="rate_limited"} = %v, want 1`, v)
	}
	if v := m.Value("kpid_upstream_rate_limit_wait_seconds_total", "connector", "acme-jira"); v < 1 {
		t.Errorf("kpid_upstream_rate_limit_wait_seconds_total = %v, want at least the 1s Retry-After", v)
	}
	const d28 = "28d"

	// Done in the window now: the first test's 12 issues minus ENG-1
	// (reopened), plus ENG-15 (alice, 03-02T11:58) and ENG-18 (bob,
	// 03-02T00:30). ENG-11 moved to OPS (now OPS-6): the same issue.
	t.Run("done_count", func(t *testing.T) {
		w := want{}
		w.s("done_count", d28, "", "", 13, 13, no, no, no)            // 12 − 1 + 2
		w.s("done_count", d28, "platform", "", 8, 8, no, no, no)      // 7 − 1 + 2
		w.s("done_count", d28, "ops", "", 4, 4, no, no, no)           // OPS-1, OPS-2, ENG-12, OPS-5
		w.s("done_count", d28, "data", "", 0, 0, no, no, no)          // mapping only
		w.s("done_count", d28, "platform", "alice", 4, 4, no, no, no) // ENG-3, -7, -9, -15
		w.s("done_count", d28, "platform", "bob", 4, 4, no, no, no)   // ENG-2, -8, -11, -18
		w.s("done_count", d28, "ops", "carol", 2, 2, no, no, no)
		w.s("done_count", d28, "ops", "frank", 1, 1, no, no, no)
		compare(t, "done_count", m.KPI("done_count"), w)
	})
	t.Run("done_sum", func(t *testing.T) {
		// No points_field: every done issue weighs 1, the unestimated too.
		w := want{}
		w.s("done_sum", d28, "", "", 13, 13, no, no, no)
		compare(t, "done_sum", m.KPI("done_sum"), w)
	})
	t.Run("done_ops", func(t *testing.T) {
		// project OPS: OPS-1, OPS-2, OPS-5 and the moved OPS-6 (ENG-11).
		w := want{}
		w.s("done_ops", d28, "", "", 4, 4, no, no, no)
		compare(t, "done_ops", m.KPI("done_ops"), w)
	})
	t.Run("cycle", func(t *testing.T) {
		// The first test's 10 cycle samples plus ENG-15's: 02-28T09:00 →
		// 03-02T11:58 = 2d 2h58m = 172800 + 10680 = 183480 (ENG-18 went
		// straight to done). Sorted: 21600 86400 86400 172800 172800
		// 183480 211500 311400 345600 432000 2937600; n = 11, h = 5.
		w := want{}
		w.s("cycle", d28, "", "", 183480, 11, no, no, no)
		compare(t, "cycle", m.KPI("cycle"), w)
	})
	t.Run("on_time", func(t *testing.T) {
		// Due dates end at midnight in New York (UTC−5): 05:00 UTC the next
		// day. ENG-2 1 (02-09T08:00, due 02-09), ENG-3 0 (02-19T10:00, due
		// 02-18), ENG-7 1, ENG-8 1 (02-20T23:30 ≤ 02-21T05:00), ENG-9 1,
		// MISC-1 1, OPS-2 0 (02-27T10:00 > 02-27T05:00), OPS-5 1, ENG-18 1
		// (03-02T00:30 ≤ 03-02T05:00). org 7/9; platform (ENG-2, -3, -7,
		// -8, -9, -18) 5/6; ops (OPS-2, OPS-5) 1/2.
		w := want{}
		w.s("on_time", d28, "", "", 7/9.0, 9, no, no, no)
		w.s("on_time", d28, "platform", "", 5/6.0, 6, no, no, no)
		w.s("on_time", d28, "ops", "", 1/2.0, 2, no, no, no)
		w.s("on_time", d28, "data", "", no, 0, no, no, no)
		compare(t, "on_time", m.KPI("on_time"), w)
	})
	t.Run("wip", func(t *testing.T) {
		// In progress now: ENG-4 (bob), ENG-1 (alice, reopened), DATA-1,
		// ENG-16 (erin, sales). ENG-15 is done, OPS-4 back in To Do.
		w := want{}
		w.s("wip", d28, "", "", 4, 4, no, no, no)
		w.s("wip", d28, "platform", "", 2, 2, no, no, no)
		w.s("wip", d28, "ops", "", 0, 0, no, no, no)
		w.s("wip", d28, "data", "", 1, 1, no, no, no)
		w.s("wip", d28, "sales", "", 1, 1, no, no, no)
		w.s("wip", d28, "platform", "alice", 1, 1, no, no, no)
		w.s("wip", d28, "platform", "bob", 1, 1, no, no, no)
		w.s("wip", d28, "ops", "carol", 0, 0, no, no, no)
		w.s("wip", d28, "ops", "frank", 0, 0, no, no, no)
		compare(t, "wip", m.KPI("wip"), w)
	})
}

const configStatuses = `
people:
  - {id: alice, team: platform, roles: [developer], jira: "5b10ac8d82e05b22cc7d4ef5"}
connectors:
  - name: acme-jira
    type: jira
    schedule: "@every 1h"
    base_url: BASE_URL
    email: ops@acme.com
    token: tok-jira-9f8e7d
    jql: project in (ENG, OPS, MISC, DATA)
    in_progress_statuses: [In Review]
    done_statuses: [Done]
    points_field: customfield_10028
kpis:
  - {id: done_count, measure: jira_issues_done, stat: count, window: 28d, scope: [org]}
  - {id: done_sum, measure: jira_issues_done, stat: sum, window: 28d, scope: [org]}
  - {id: cycle, measure: jira_cycle_time_seconds, stat: mean, window: 28d, scope: [org]}
  - {id: reopen, measure: jira_issue_reopened, stat: sum, window: 28d, scope: [org]}
  - {id: wip, measure: jira_wip, stat: count, window: 28d, scope: [org, team, person]}
`

// TestJiraCloudConfiguredStatuses names the statuses instead of relying on
// categories (SPEC §2 in_progress_statuses, done_statuses; §3.4 the WIP
// listing uses `status in (…)`), and gives points_field by id.
func TestJiraCloudConfiguredStatuses(t *testing.T) {
	_, up := newFakeJira(t, dataset(), siteUsers)
	d := blackbox.Start(t, strings.Replace(configStatuses, "BASE_URL", up.URL, 1), now)
	m := d.WaitSynced(t, "acme-jira")
	const d28 = "28d"
	got := map[string]float64{}
	for _, id := range []string{"done_count", "done_sum", "cycle", "reopen", "wip"} {
		for k, v := range m.KPI(id) {
			got[k] = v
		}
	}
	w := want{}
	// Done is only "Done" now: MISC-1 (Closed, 2 points) drops out of the
	// first test's 12 done issues (29 points with the two unestimated issues at 0, 29+2*unestimated in all).
	w.s("done_count", d28, "", "", 11, 11, no, no, no)
	w.s("done_sum", d28, "", "", 29+2*unestimated-2, 11, no, no, no)
	// Cycle time starts at the first entry into In Review: ENG-2 02-05T08
	// → 02-09T08 = 345600; ENG-7 02-24T10 → 02-25T10 = 86400; OPS-2
	// 02-26T10 → 02-27T10 = 86400. Mean (345600+86400+86400)/3 = 172800.
	w.s("cycle", d28, "", "", 172800, 3, no, no, no)
	// Reopened: ENG-3 (Done → Reopened) and OPS-1 (Done → In Progress).
	w.s("reopen", d28, "", "", 2, 11, no, no, no)
	// In progress: only ENG-15 (alice) is In Review.
	w.s("wip", d28, "", "", 1, 1, no, no, no)
	w.s("wip", d28, "platform", "", 1, 1, no, no, no)
	w.s("wip", d28, "platform", "alice", 1, 1, no, no, no)
	compare(t, "configured statuses", got, w)
}

var (
	reIssueSearch = regexp.MustCompile(`^\(project in \(ENG, OPS, MISC, DATA\)\) AND updated >= '(\d{4}/\d\d/\d\d \d\d:\d\d)' ORDER BY updated ASC$`)
	reWIPSearch   = regexp.MustCompile(`^\(project in \(ENG, OPS, MISC, DATA\)\) AND statusCategory = "In Progress"( ORDER BY .*)?$`)
)

// checkRequests compares what kpid asked with SPEC §3.4: the issue search
// `(<jql>) AND updated >= 'yyyy/MM/dd HH:mm' ORDER BY updated ASC` with
// expand changelog and maxResults 100, its bound the lookback horizon
// written in the user's zone (at most a few minutes earlier: overlap); the
// WIP listing `(<jql>) AND statusCategory = "In Progress"`; bulkfetch with
// fieldIds ["status"].
func checkRequests(t *testing.T, f *fakeJira) {
	t.Helper()
	f.mu.Lock()
	searches, bulks := f.searches, f.bulks
	f.mu.Unlock()
	issueSearches, wipSearches := 0, 0
	for _, b := range searches {
		var expand string
		_ = json.Unmarshal(b.Expand, &expand)
		switch m := reIssueSearch.FindStringSubmatch(b.JQL); {
		case m != nil:
			issueSearches++
			if expand != "changelog" || b.MaxResults == nil || *b.MaxResults != 100 {
				t.Errorf("issue search: expand %q, maxResults %v; want \"changelog\", 100", expand, b.MaxResults)
			}
			if b.NextPageToken != nil && *b.NextPageToken != "" {
				continue
			}
			bound, _ := time.ParseInLocation("2006/01/02 15:04", m[1], berlin)
			horizon := now.Add(-180 * 24 * time.Hour) // lookback 180d
			if bound.After(horizon) || bound.Before(horizon.Add(-15*time.Minute)) {
				t.Errorf("issue search from %s (%s in Europe/Berlin), want the lookback horizon %s or a few minutes before",
					m[1], bound.UTC().Format(time.RFC3339), horizon.Format(time.RFC3339))
			}
		case reWIPSearch.MatchString(b.JQL):
			wipSearches++
		case strings.Contains(b.JQL, "updated") || strings.Contains(b.JQL, "status"):
			t.Errorf("unexpected search JQL %q", b.JQL)
		}
	}
	if issueSearches == 0 || wipSearches == 0 {
		t.Errorf("%d issue searches, %d WIP listings; want both", issueSearches, wipSearches)
	}
	for _, b := range bulks {
		if len(b.FieldIDs) != 1 || b.FieldIDs[0] != "status" {
			t.Errorf("bulkfetch fieldIds %q, want [status]", b.FieldIDs)
		}
	}
}

// ===== The fake Jira Cloud =====

// A small fake of Jira Cloud's REST API v3, written from Atlassian's
// reference ("The Jira Cloud platform REST API": Issue search, Issues —
// bulk fetch changelogs, Workflow statuses, Issue fields, Myself, User
// search), not from kpid's simulator. It is tolerant where Jira is
// (unknown JQL clauses are ignored) and strict where Jira is (request
// bodies with unknown properties or of the wrong type are refused, only
// the requested fields are returned, the old search endpoint is gone).
//
// Shapes it reproduces:
//   - POST /rest/api/3/search/jql: body {jql, fields, expand (a string),
//     maxResults, nextPageToken, ...}; answer {issues, nextPageToken (only
//     when there is a next page), isLast}. Jira may return fewer issues
//     than maxResults: this fake returns at most searchPageCap a page.
//     Fields are returned only when asked ("*all" for all; none asked: the
//     issue id and key only). With expand=changelog the issue embeds
//     {startAt, maxResults, total, histories}: the most recent histories,
//     newest first, at most embedCap of them (total says how many exist).
//   - POST /rest/api/3/changelog/bulkfetch: body {issueIdsOrKeys,
//     fieldIds, maxResults, nextPageToken}; answer {issueChangeLogs:
//     [{issueId, changeHistories}], nextPageToken}. Histories are sorted
//     oldest first (then by issue id), filtered to the items of fieldIds,
//     and paged across issues: one issue's histories can be split over
//     two pages (at most bulkPageCap histories a page here).
//   - GET /rest/api/3/status, /field, /myself, /user/search?query=.
//   - GET|POST /rest/api/3/search: 410 Gone (CHANGE-2046).
// Times are written as Jira writes them, in the API user's zone
// ("2026-02-20T11:00:00.000+0100"); JQL times are read in that zone.

const (
	jiraEmail     = "ops@acme.com"
	jiraToken     = "tok-jira-9f8e7d"
	searchPageCap = 4 // issues a search page returns at most
	embedCap      = 4 // histories a search embeds at most
	bulkPageCap   = 3 // histories a bulkfetch page returns at most
	userZone      = "Europe/Berlin"
)

var berlin = mustZone(userZone)

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// jiraTime formats an instant like Jira does, in the user's zone.
func jiraTime(t time.Time) string { return t.In(berlin).Format("2006-01-02T15:04:05.000-0700") }

type status struct {
	id, name, cat string // cat: new | indeterminate | done
}

var statusCatalog = []status{
	{"1", "To Do", "new"},
	{"3", "In Progress", "indeterminate"},
	{"10001", "In Review", "indeterminate"},
	{"10002", "Done", "done"},
	{"10003", "Closed", "done"},
	{"10004", "Ready to Ship", "new"},
	{"10005", "Reopened", "new"},
}

func statusByID(id string) status {
	for _, s := range statusCatalog {
		if s.id == id {
			return s
		}
	}
	panic("unknown status " + id)
}

type histItem struct {
	field, fieldtype, fieldID string
	from, fromString          any // string or nil
	to, toString              any
}

type history struct {
	id    string
	at    time.Time
	items []histItem
}

type issue struct {
	id, key          string
	status           string // status id
	created, updated time.Time
	resolved         time.Time // zero: null
	due              string    // yyyy-mm-dd, "": null
	assignee         string    // accountId, "": unassigned
	project, itype   string
	points           *float64  // Story Points (customfield_10028)
	hist             []history // oldest first
}

type user struct {
	accountID, email, name string
}

// fakeJira is the fake site.
type fakeJira struct {
	t      testing.TB
	issues []*issue
	users  []user

	mu        sync.Mutex
	requests  map[string]int // "METHOD path" -> count
	bulkAsked map[string]bool
	problems  []string
	// then, when set, changes the site once the first listing of the
	// issues in progress (the end of kpid's first sync) has been answered.
	then     func([]*issue) []*issue
	switched bool
	// throttle, when set, refuses the first search with a 429 as Jira
	// Cloud does (Retry-After in seconds; X-RateLimit-Reset, the request
	// time plus Retry-After, minute-precise).
	throttle  bool
	throttled int
	// searches and bulks are the bodies kpid sent.
	searches []searchBody
	bulks    []bulkBody
}

// data is the current issues (a change replaces them, never edits them).
func (f *fakeJira) data() []*issue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issues
}

func newFakeJira(t testing.TB, issues []*issue, users []user) (*fakeJira, *httptest.Server) {
	f := &fakeJira{t: t, issues: issues, users: users, requests: map[string]int{}, bulkAsked: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.problems {
			t.Errorf("fake jira: %s", p)
		}
	})
	return f, srv
}

func (f *fakeJira) problem(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func jiraError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"errorMessages": []string{msg}, "errors": map[string]any{}})
}

func (f *fakeJira) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests[r.Method+" "+r.URL.Path]++
	f.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != jiraEmail || p != jiraToken {
		w.Header().Set("WWW-Authenticate", `Basic realm="protected-area"`)
		http.Error(w, "Client must be authenticated to access this resource.", http.StatusUnauthorized)
		f.problem("%s %s without the right basic auth", r.Method, r.URL.Path)
		return
	}
	w.Header().Set("X-RateLimit-Limit", "100")
	w.Header().Set("X-RateLimit-Remaining", "99")
	switch route := r.Method + " " + r.URL.Path; route {
	case "POST /rest/api/3/search/jql":
		f.mu.Lock()
		refuse := f.throttle && f.throttled == 0
		if refuse {
			f.throttled++
		}
		f.mu.Unlock()
		if refuse {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("X-RateLimit-Reset", time.Now().UTC().Add(time.Second).Format("2006-01-02T15:04Z"))
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("RateLimit-Reason", "jira-quota-based")
			jiraError(w, http.StatusTooManyRequests, "Rate limit exceeded.")
			return
		}
		f.search(w, r)
	case "POST /rest/api/3/changelog/bulkfetch":
		f.bulkfetch(w, r)
	case "GET /rest/api/3/status":
		f.statuses(w)
	case "GET /rest/api/3/field":
		f.fields(w)
	case "GET /rest/api/3/myself":
		writeJSON(w, 200, map[string]any{
			"self": "https://acme.atlassian.net/rest/api/3/user?accountId=557058:ops", "accountId": "557058:0a1b2c3d-ops",
			"accountType": "atlassian", "emailAddress": jiraEmail, "displayName": "Ops Bot", "active": true,
			"timeZone": userZone, "locale": "en_US",
		})
	case "GET /rest/api/3/user/search":
		q := strings.ToLower(r.URL.Query().Get("query"))
		out := []map[string]any{}
		for _, u := range f.users {
			if q != "" && (strings.HasPrefix(strings.ToLower(u.email), q) || strings.HasPrefix(strings.ToLower(u.name), q)) {
				out = append(out, map[string]any{"accountId": u.accountID, "accountType": "atlassian",
					"emailAddress": u.email, "displayName": u.name, "active": true})
			}
		}
		writeJSON(w, 200, out)
	case "GET /rest/api/3/search", "POST /rest/api/3/search":
		f.problem("kpid called the removed endpoint %s", route)
		jiraError(w, http.StatusGone, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")
	default:
		f.problem("unexpected request %s", route)
		jiraError(w, http.StatusNotFound, "null for uri: "+r.URL.Path)
	}
}

func (f *fakeJira) statuses(w http.ResponseWriter) {
	cats := map[string]map[string]any{
		"new":           {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
		"indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
		"done":          {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
	}
	var out []map[string]any
	for _, s := range statusCatalog {
		out = append(out, map[string]any{
			"self": "https://acme.atlassian.net/rest/api/3/status/" + s.id, "description": "", "iconUrl": "",
			"name": s.name, "untranslatedName": s.name, "id": s.id, "statusCategory": cats[s.cat],
			"scope": map[string]any{"type": "PROJECT", "project": map[string]any{"id": "10000"}},
		})
	}
	writeJSON(w, 200, out)
}

func (f *fakeJira) fields(w http.ResponseWriter) {
	sys := func(id, name, typ string) map[string]any {
		return map[string]any{"id": id, "key": id, "name": name, "custom": false, "orderable": true, "navigable": true,
			"searchable": true, "clauseNames": []string{id}, "schema": map[string]any{"type": typ, "system": id}}
	}
	custom := func(id, name, typ, kind string, n int) map[string]any {
		return map[string]any{"id": id, "key": id, "name": name, "untranslatedName": name, "custom": true,
			"orderable": true, "navigable": true, "searchable": true,
			"clauseNames": []string{fmt.Sprintf("cf[%d]", n), name},
			"schema":      map[string]any{"type": typ, "custom": kind, "customId": n}}
	}
	writeJSON(w, 200, []map[string]any{
		sys("summary", "Summary", "string"),
		sys("status", "Status", "status"),
		sys("assignee", "Assignee", "user"),
		sys("created", "Created", "datetime"),
		sys("updated", "Updated", "datetime"),
		sys("resolutiondate", "Resolved", "datetime"),
		sys("duedate", "Due date", "date"),
		custom("customfield_10020", "Sprint", "array", "com.pyxis.greenhopper.jira:gh-sprint", 10020),
		// Team-managed projects' estimate: a different field, with other values.
		custom("customfield_10016", "Story point estimate", "number", "com.pyxis.greenhopper.jira:jsw-story-points", 10016),
		custom("customfield_10028", "Story Points", "number", "com.atlassian.jira.plugin.system.customfieldtypes:float", 10028),
	})
}

// --- search -------------------------------------------------------------

type searchBody struct {
	JQL             string          `json:"jql"`
	NextPageToken   *string         `json:"nextPageToken"`
	MaxResults      *int            `json:"maxResults"`
	Fields          []string        `json:"fields"`
	Expand          json.RawMessage `json:"expand"`
	Properties      []string        `json:"properties"`
	FieldsByKeys    bool            `json:"fieldsByKeys"`
	FailFast        bool            `json:"failFast"`
	ReconcileIssues []int           `json:"reconcileIssues"`
}

var (
	reUpdated  = regexp.MustCompile(`(?i)\bupdated\s*>=\s*(?:'([^']*)'|"([^"]*)")`)
	reCategory = regexp.MustCompile(`(?i)\bstatusCategory\s*=\s*(?:"([^"]*)"|'([^']*)'|(\w+))`)
	reStatusIn = regexp.MustCompile(`(?i)\bstatus\s+in\s*\(([^)]*)\)`)
	reProject  = regexp.MustCompile(`(?i)\bproject\s+in\s*\(([^)]*)\)`)
	reOrder    = regexp.MustCompile(`(?i)\border\s+by\s+(\w+)(?:\s+(asc|desc))?`)
)

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.Trim(strings.TrimSpace(p), `"'`)
		if p != "" {
			out = append(out, strings.ToLower(p))
		}
	}
	return out
}

// parseJQLTime reads a JQL date-time the way Jira does: in the user's zone,
// "yyyy/MM/dd HH:mm", "yyyy-MM-dd HH:mm", "yyyy/MM/dd" or "yyyy-MM-dd".
func parseJQLTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006/01/02 15:04", "2006-01-02 15:04", "2006/01/02", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(s), berlin); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (f *fakeJira) search(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var b searchBody
	if err := dec.Decode(&b); err != nil {
		f.problem("search/jql body refused: %v", err)
		jiraError(w, 400, "Invalid request payload. Refer to the REST API documentation and try again.")
		return
	}
	f.mu.Lock()
	f.searches = append(f.searches, b)
	f.mu.Unlock()
	expand := ""
	if len(b.Expand) > 0 && string(b.Expand) != "null" {
		if err := json.Unmarshal(b.Expand, &expand); err != nil {
			f.problem("search/jql expand is not a string: %s", b.Expand)
			jiraError(w, 400, "Invalid request payload. Refer to the REST API documentation and try again.")
			return
		}
	}
	if strings.TrimSpace(b.JQL) == "" {
		jiraError(w, 400, "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
		return
	}
	jql := b.JQL
	var match []*issue
	var since time.Time
	if m := reUpdated.FindStringSubmatch(jql); m != nil {
		raw := m[1] + m[2]
		t, ok := parseJQLTime(raw)
		if !ok {
			f.problem("search/jql: bad date %q", raw)
			jiraError(w, 400, fmt.Sprintf("Date value '%s' for field 'updated' is invalid.", raw))
			return
		}
		since = t
	}
	cat := ""
	if m := reCategory.FindStringSubmatch(jql); m != nil {
		switch strings.ToLower(m[1] + m[2] + m[3]) {
		case "in progress", "indeterminate", "4":
			cat = "indeterminate"
		case "to do", "new", "2":
			cat = "new"
		case "done", "3":
			cat = "done"
		default:
			jiraError(w, 400, "The value '"+m[1]+m[2]+m[3]+"' does not exist for the field 'statusCategory'.")
			return
		}
	}
	var statusIn, projects []string
	if m := reStatusIn.FindStringSubmatch(jql); m != nil {
		statusIn = splitList(m[1])
	}
	if m := reProject.FindStringSubmatch(jql); m != nil {
		projects = splitList(m[1])
	}
	for _, is := range f.data() {
		st := statusByID(is.status)
		switch {
		case !since.IsZero() && is.updated.Before(since):
		case cat != "" && st.cat != cat:
		case statusIn != nil && !contains(statusIn, strings.ToLower(st.name)) && !contains(statusIn, st.id):
		case projects != nil && !contains(projects, strings.ToLower(is.project)):
		default:
			match = append(match, is)
		}
	}
	order, desc := "key", false
	if m := reOrder.FindStringSubmatch(jql); m != nil {
		order, desc = strings.ToLower(m[1]), strings.EqualFold(m[2], "desc")
	}
	sort.SliceStable(match, func(i, j int) bool {
		a, c := match[i], match[j]
		less := false
		switch order {
		case "updated":
			less = a.updated.Before(c.updated) || a.updated.Equal(c.updated) && a.id < c.id
		case "created":
			less = a.created.Before(c.created) || a.created.Equal(c.created) && a.id < c.id
		default:
			less = keyLess(a.key, c.key)
		}
		if desc {
			return !less
		}
		return less
	})

	offset := 0
	if b.NextPageToken != nil && *b.NextPageToken != "" {
		q, off, ok := readToken(*b.NextPageToken)
		if !ok || q != jql {
			f.problem("search/jql: a nextPageToken of another query")
			jiraError(w, 400, "The provided next page token is invalid or expired.")
			return
		}
		offset = off
	}
	max := 50
	if b.MaxResults != nil {
		max = *b.MaxResults
	}
	if max > searchPageCap {
		max = searchPageCap
	}
	if max < 1 {
		max = 1
	}
	end := min(offset+max, len(match))
	page := match[min(offset, len(match)):end]
	issues := make([]map[string]any, 0, len(page))
	for _, is := range page {
		issues = append(issues, f.renderIssue(is, b.Fields, strings.Contains(expand, "changelog")))
	}
	out := map[string]any{"issues": issues, "isLast": end >= len(match)}
	if end < len(match) {
		out["nextPageToken"] = makeToken(jql, end)
	}
	writeJSON(w, 200, out)
	if cat == "indeterminate" && end >= len(match) {
		f.mu.Lock()
		if f.then != nil && !f.switched {
			f.issues, f.switched = f.then(f.issues), true
		}
		f.mu.Unlock()
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func keyLess(a, b string) bool {
	pa, na := splitKey(a)
	pb, nb := splitKey(b)
	if pa != pb {
		return pa < pb
	}
	return na < nb
}

func splitKey(k string) (string, int) {
	i := strings.LastIndex(k, "-")
	n, _ := strconv.Atoi(k[i+1:])
	return k[:i], n
}

func makeToken(q string, off int) string {
	b, _ := json.Marshal(struct {
		Q   string `json:"q"`
		Off int    `json:"o"`
	}{q, off})
	return base64.RawURLEncoding.EncodeToString(b)
}

func readToken(tok string) (string, int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", 0, false
	}
	var v struct {
		Q   string `json:"q"`
		Off int    `json:"o"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return "", 0, false
	}
	return v.Q, v.Off, true
}

func (f *fakeJira) user(accountID string) any {
	if accountID == "" {
		return nil
	}
	u := map[string]any{"accountId": accountID, "accountType": "atlassian", "active": true,
		"self": "https://acme.atlassian.net/rest/api/3/user?accountId=" + accountID, "timeZone": userZone}
	for _, x := range f.users {
		if x.accountID == accountID {
			u["displayName"] = x.name
			u["emailAddress"] = x.email
		}
	}
	if _, ok := u["displayName"]; !ok {
		u["displayName"] = "Someone Else"
	}
	return u
}

func statusJSON(id string) map[string]any {
	s := statusByID(id)
	catID := map[string]int{"new": 2, "indeterminate": 4, "done": 3}[s.cat]
	catName := map[string]string{"new": "To Do", "indeterminate": "In Progress", "done": "Done"}[s.cat]
	return map[string]any{
		"self": "https://acme.atlassian.net/rest/api/3/status/" + id, "description": "", "iconUrl": "",
		"name": s.name, "id": id,
		"statusCategory": map[string]any{"id": catID, "key": s.cat, "colorName": "blue-gray", "name": catName},
	}
}

// renderIssue writes an issue with the requested fields only.
func (f *fakeJira) renderIssue(is *issue, fields []string, changelog bool) map[string]any {
	all := map[string]any{
		"summary":  "Issue " + is.key,
		"status":   statusJSON(is.status),
		"assignee": f.user(is.assignee),
		"project": map[string]any{"id": map[string]string{"ENG": "10000", "OPS": "10001", "MISC": "10002", "DATA": "10003"}[is.project],
			"key": is.project, "name": is.project + " project", "projectTypeKey": "software"},
		"issuetype": map[string]any{"id": map[string]string{"Story": "10001", "Bug": "10004", "Task": "10002"}[is.itype],
			"name": is.itype, "subtask": false},
		"created":           jiraTime(is.created),
		"updated":           jiraTime(is.updated),
		"resolutiondate":    nil,
		"duedate":           nil,
		"customfield_10028": nil,
		"customfield_10016": 99.0, // the other estimate field: must not be read
		"customfield_10020": nil,
	}
	if !is.resolved.IsZero() {
		all["resolutiondate"] = jiraTime(is.resolved)
		all["resolution"] = map[string]any{"id": "10000", "name": "Done"}
	} else {
		all["resolution"] = nil
	}
	if is.due != "" {
		all["duedate"] = is.due
	}
	if is.points != nil {
		all["customfield_10028"] = *is.points
	}
	out := map[string]any{"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
		"id": is.id, "key": is.key, "self": "https://acme.atlassian.net/rest/api/3/issue/" + is.id}
	fs := map[string]any{}
	for _, name := range fields {
		switch name {
		case "*all", "*navigable":
			for k, v := range all {
				fs[k] = v
			}
		default:
			if v, ok := all[name]; ok {
				fs[name] = v
			}
		}
	}
	if len(fields) > 0 {
		out["fields"] = fs
	}
	if changelog {
		// The most recent histories, newest first.
		var hs []map[string]any
		for i := len(is.hist) - 1; i >= 0 && len(hs) < embedCap; i-- {
			hs = append(hs, historyJSON(is.hist[i], nil))
		}
		if hs == nil {
			hs = []map[string]any{}
		}
		out["changelog"] = map[string]any{"startAt": 0, "maxResults": len(hs), "total": len(is.hist), "histories": hs}
	}
	return out
}

func historyJSON(h history, onlyFields []string) map[string]any {
	items := []map[string]any{}
	for _, it := range h.items {
		if onlyFields != nil && !contains(onlyFields, it.fieldID) {
			continue
		}
		items = append(items, map[string]any{"field": it.field, "fieldtype": it.fieldtype, "fieldId": it.fieldID,
			"from": it.from, "fromString": it.fromString, "to": it.to, "toString": it.toString})
	}
	return map[string]any{
		"id": h.id,
		"author": map[string]any{"accountId": "557058:0a1b2c3d-ops", "displayName": "Someone", "active": true,
			"accountType": "atlassian"},
		"created": jiraTime(h.at),
		"items":   items,
	}
}

// --- bulk fetch changelogs -------------------------------------------------

type bulkBody struct {
	IssueIDsOrKeys []string `json:"issueIdsOrKeys"`
	FieldIDs       []string `json:"fieldIds"`
	MaxResults     *int     `json:"maxResults"`
	NextPageToken  *string  `json:"nextPageToken"`
}

func (f *fakeJira) bulkfetch(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var b bulkBody
	if err := dec.Decode(&b); err != nil {
		f.problem("bulkfetch body refused: %v", err)
		jiraError(w, 400, "Invalid request payload. Refer to the REST API documentation and try again.")
		return
	}
	f.mu.Lock()
	f.bulks = append(f.bulks, b)
	f.mu.Unlock()
	if len(b.IssueIDsOrKeys) == 0 || len(b.IssueIDsOrKeys) > 1000 {
		f.problem("bulkfetch with %d issues", len(b.IssueIDsOrKeys))
		jiraError(w, 400, "issueIdsOrKeys must hold between 1 and 1000 issues.")
		return
	}
	if len(b.FieldIDs) > 10 {
		jiraError(w, 400, "fieldIds can hold at most 10 fields.")
		return
	}
	type entry struct {
		is *issue
		h  history
	}
	var all []entry
	for _, ref := range b.IssueIDsOrKeys {
		var found *issue
		for _, is := range f.data() {
			if is.id == ref || is.key == ref {
				found = is
			}
		}
		if found == nil {
			continue // Jira leaves out issues that do not exist or cannot be seen
		}
		f.mu.Lock()
		f.bulkAsked[found.key] = true
		f.mu.Unlock()
		for _, h := range found.hist {
			keep := b.FieldIDs == nil
			for _, it := range h.items {
				if contains(b.FieldIDs, it.fieldID) {
					keep = true
				}
			}
			if keep {
				all = append(all, entry{found, h})
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].h.at.Equal(all[j].h.at) {
			return all[i].h.at.Before(all[j].h.at)
		}
		ai, _ := strconv.Atoi(all[i].is.id)
		aj, _ := strconv.Atoi(all[j].is.id)
		return ai < aj
	})
	offset := 0
	if b.NextPageToken != nil && *b.NextPageToken != "" {
		_, off, ok := readToken(*b.NextPageToken)
		if !ok {
			jiraError(w, 400, "The provided next page token is invalid.")
			return
		}
		offset = off
	}
	max := 1000
	if b.MaxResults != nil && *b.MaxResults > 0 {
		max = *b.MaxResults
	}
	max = min(max, bulkPageCap)
	end := min(offset+max, len(all))
	logs := []map[string]any{}
	for _, e := range all[min(offset, end):end] {
		var only []string
		if b.FieldIDs != nil {
			only = b.FieldIDs
		}
		hj := historyJSON(e.h, only)
		grouped := false
		for _, l := range logs {
			if l["issueId"] == e.is.id {
				l["changeHistories"] = append(l["changeHistories"].([]map[string]any), hj)
				grouped = true
			}
		}
		if !grouped {
			logs = append(logs, map[string]any{"issueId": e.is.id, "changeHistories": []map[string]any{hj}})
		}
	}
	out := map[string]any{"issueChangeLogs": logs}
	if end < len(all) {
		out["nextPageToken"] = makeToken("bulk", end)
	}
	writeJSON(w, 200, out)
}

// ===== The dataset =====

// now is the frozen KPI clock: Monday 2026-03-02 12:00 UTC (13:00 in
// Berlin, UTC+1 until the end of March).
var now = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// at reads a UTC time "2026-02-12T09:00" (seconds and milliseconds
// optional).
func at(s string) time.Time {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02T15:04:05.000"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	panic("bad time " + s)
}

func pts(v float64) *float64 { return &v }

// Jira accountIds of the people (see config) and of one undeclared user.
const (
	accAlice = "5b10ac8d82e05b22cc7d4ef5"
	accBob   = "5b10a0effa615349cb016cd8"
	accCarol = "712020:0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7"
	accFrank = "712020:99aa88bb-77cc-66dd-55ee-44ff33001122" // declared by email
	accErin  = "5c3d9e8f7a6b5c4d3e2f1a0b"
	accZed   = "557058:f1e2d3c4-b5a6-9788-6950-4132a1b2c3d4" // not declared
)

var siteUsers = []user{
	{accAlice, "alice@acme.com", "Alice Smith"},
	{accBob, "bob@acme.com", "Bob Jones"},
	{accCarol, "carol@acme.com", "Carol White"},
	{accFrank, "frank@acme.com", "Frank Black"},
	{accErin, "erin@acme.com", "Erin Green"},
	{accZed, "zed@contractor.example", "Zed Contractor"},
}

// histories builds change groups with ids increasing in time.
type histories struct{ next int }

func statusItem(from, to, fromName, toName string) histItem {
	if fromName == "" {
		fromName = statusByID(from).name
	}
	if toName == "" {
		toName = statusByID(to).name
	}
	return histItem{field: "status", fieldtype: "jira", fieldID: "status", from: from, fromString: fromName, to: to, toString: toName}
}

var resolutionItem = histItem{field: "resolution", fieldtype: "jira", fieldID: "resolution", to: "10000", toString: "Done"}

// st is a status change (plus a resolution item when it enters a done
// status, as Jira's default workflows do).
func (h *histories) st(when, from, to string) history {
	items := []histItem{statusItem(from, to, "", "")}
	if statusByID(to).cat == "done" && statusByID(from).cat != "done" {
		items = append(items, resolutionItem)
	}
	return h.add(when, items...)
}

func (h *histories) add(when string, items ...histItem) history {
	h.next += 7
	return history{id: fmt.Sprint(20000 + h.next), at: at(when), items: items}
}

func (h *histories) other(when, field, fieldID, fieldtype string, from, fromString, to, toString any) history {
	return h.add(when, histItem{field: field, fieldtype: fieldtype, fieldID: fieldID, from: from, fromString: fromString, to: to, toString: toString})
}

// dataset is the site's issues. Times are UTC. The window of a 28d KPI is
// (2026-02-02T12:00, 2026-03-02T12:00]; its 28d baseline period
// (2026-01-05T12:00, 2026-02-02T12:00]; a 56d baseline period
// (2025-12-08T12:00, 2026-02-02T12:00]; a 7d window
// (2026-02-23T12:00, 2026-03-02T12:00]. The end of a due date is midnight
// after it in Europe/Berlin (the /myself zone): 23:00 UTC on that date.
//
// Status ids: 1 To Do (new), 3 In Progress and 10001 In Review
// (indeterminate), 10002 Done and 10003 Closed (done), 10004 Ready to Ship
// and 10005 Reopened (new).
func dataset() []*issue {
	h := &histories{}
	mk := func(id, key, status, project, itype, assignee string, created string, points *float64, hs ...history) *issue {
		is := &issue{id: id, key: key, status: status, project: project, itype: itype, assignee: assignee,
			created: at(created), points: points, hist: hs}
		is.updated = is.created
		for _, x := range hs {
			if x.at.After(is.updated) {
				is.updated = x.at
			}
		}
		return is
	}
	resolved := func(is *issue, when string) *issue { is.resolved = at(when); return is }
	due := func(is *issue, d string) *issue { is.due = d; return is }

	return []*issue{
		// ENG-1: straight from To Do to Done: no cycle time.
		resolved(mk("10001", "ENG-1", "10002", "ENG", "Story", accAlice, "2026-02-10T09:00", pts(3),
			h.st("2026-02-12T09:00", "1", "10002"),
		), "2026-02-12T09:00"),

		// ENG-2: through In Progress, In Review, back to In Progress: cycle
		// from the FIRST entry (02-04T08:00). Five histories: the search
		// embeds the newest four, which miss that first entry (truncated:
		// completed by bulkfetch).
		due(resolved(mk("10002", "ENG-2", "10002", "ENG", "Bug", accBob, "2026-02-03T08:00", pts(5),
			h.st("2026-02-04T08:00", "1", "3"),
			h.st("2026-02-05T08:00", "3", "10001"),
			h.st("2026-02-06T08:00", "10001", "3"),
			h.st("2026-02-09T08:00", "3", "10002"),
			h.other("2026-02-10T08:00", "priority", "priority", "jira", "3", "Medium", "2", "High"),
		), "2026-02-09T08:00"), "2026-02-09"),

		// ENG-3: done, reopened, done again (resolutiondate is the second).
		due(resolved(mk("10003", "ENG-3", "10002", "ENG", "Story", accAlice, "2026-02-14T10:00", pts(2),
			h.st("2026-02-15T10:00", "1", "3"),
			h.st("2026-02-16T10:00", "3", "10002"),
			h.st("2026-02-17T10:00", "10002", "10005"),
			h.st("2026-02-18T10:00", "10005", "3"),
			h.st("2026-02-19T10:00", "3", "10002"),
		), "2026-02-19T10:00"), "2026-02-18"),

		// ENG-4: done, then back In Progress (open now, WIP); the workflow
		// left its resolutiondate set: still no done sample.
		resolved(mk("10004", "ENG-4", "3", "ENG", "Story", accBob, "2026-02-05T10:00", pts(3),
			h.st("2026-02-06T10:00", "1", "3"),
			h.st("2026-02-07T10:00", "3", "10002"),
			h.st("2026-02-25T10:00", "10002", "3"),
		), "2026-02-07T10:00"),

		// ENG-5: resolved while sitting in a non-done status (like the
		// recorded EE-1): no done-time sample; not WIP (category new).
		resolved(mk("10005", "ENG-5", "10004", "ENG", "Task", accCarol, "2026-02-17T10:00", pts(1),
			h.st("2026-02-18T10:00", "1", "3"),
			h.add("2026-02-20T10:00", statusItem("3", "10004", "", ""), resolutionItem),
		), "2026-02-20T10:00"),

		// OPS-1: done twice without resolutiondate: done time is the LAST
		// entry into done (02-23T09:00). Its history names status 3 by
		// its old name "Doing" (renamed since; matched by id). No points.
		mk("10006", "OPS-1", "10002", "OPS", "Task", accCarol, "2026-02-20T09:00", nil,
			h.add("2026-02-21T09:00", statusItem("1", "3", "", "Doing")),
			h.add("2026-02-22T09:00", statusItem("3", "10002", "Doing", "")),
			h.add("2026-02-22T15:00", statusItem("10002", "3", "", "Doing")),
			h.add("2026-02-23T09:00", statusItem("3", "10002", "Doing", "")),
		),

		// ENG-7: a long history (7 change groups, 4 embedded): the first
		// entry into In Progress (01-22T10:00) is only in bulkfetch.
		due(resolved(mk("10007", "ENG-7", "10002", "ENG", "Story", accAlice, "2026-01-20T10:00", pts(8),
			h.st("2026-01-22T10:00", "1", "3"),
			h.other("2026-01-26T10:00", "Sprint", "customfield_10020", "custom", "", "", "5", "ENG Sprint 5"),
			h.other("2026-01-30T10:00", "labels", "labels", "jira", nil, "", nil, "backend"),
			h.other("2026-02-03T10:00", "Story Points", "customfield_10028", "custom", nil, "5", nil, "8"),
			h.other("2026-02-10T10:00", "assignee", "assignee", "jira", accBob, "Bob Jones", accAlice, "Alice Smith"),
			h.st("2026-02-24T10:00", "3", "10001"),
			h.st("2026-02-25T10:00", "10001", "10002"),
		), "2026-02-25T10:00"), "2026-02-25"),

		// ENG-8: done 2026-02-20T23:30Z = 00:30 on the 21st in Berlin: past
		// the end of its due date there (on time if read in UTC).
		due(resolved(mk("10008", "ENG-8", "10002", "ENG", "Bug", accBob, "2026-02-16T09:00", pts(1),
			h.st("2026-02-17T09:00", "1", "3"),
			h.st("2026-02-20T23:30", "3", "10002"),
		), "2026-02-20T23:30"), "2026-02-20"),

		// ENG-9: done 2026-02-26T22:45Z = 23:45 in Berlin: on time. No points.
		due(resolved(mk("10009", "ENG-9", "10002", "ENG", "Story", accAlice, "2026-02-23T12:00", nil,
			h.st("2026-02-24T12:00", "1", "3"),
			h.st("2026-02-26T22:45", "3", "10002"),
		), "2026-02-26T22:45"), "2026-02-26"),

		// MISC-1: unassigned, unmapped project: org only. Ends in Closed.
		due(resolved(mk("10010", "MISC-1", "10003", "MISC", "Task", "", "2026-02-10T12:00", pts(2),
			h.st("2026-02-11T12:00", "1", "3"),
			h.st("2026-02-13T12:00", "3", "10003"),
		), "2026-02-13T12:00"), "2026-02-14"),

		// OPS-2: undeclared assignee: no person, team ops from the project.
		// Its first in-progress status is In Review.
		due(resolved(mk("10011", "OPS-2", "10002", "OPS", "Bug", accZed, "2026-02-26T08:00", pts(3),
			h.st("2026-02-26T10:00", "1", "10001"),
			h.st("2026-02-27T10:00", "10001", "10002"),
		), "2026-02-27T10:00"), "2026-02-26"),

		// ENG-10: done exactly at now − 28d: outside the window, inside the
		// baseline periods.
		resolved(mk("10012", "ENG-10", "10002", "ENG", "Story", accAlice, "2026-01-30T12:00", pts(5),
			h.st("2026-01-31T12:00", "1", "3"),
			h.st("2026-02-02T12:00", "3", "10002"),
		), "2026-02-02T12:00"),

		// ENG-11: done exactly at now: inside the window.
		resolved(mk("10013", "ENG-11", "10002", "ENG", "Story", accBob, "2026-02-28T12:00", pts(1),
			h.st("2026-03-01T12:00", "1", "3"),
			h.st("2026-03-02T12:00", "3", "10002"),
		), "2026-03-02T12:00"),

		// ENG-12: done 1 ms after now − 28d: inside the window. Carol (ops)
		// on an ENG issue: her team, not the project's.
		resolved(mk("10014", "ENG-12", "10002", "ENG", "Story", accCarol, "2026-01-31T12:00", pts(2),
			h.st("2026-02-02T12:00:00.001", "1", "10002"),
		), "2026-02-02T12:00:00.001"),

		// ENG-13, OPS-3: in the baseline periods.
		resolved(mk("10015", "ENG-13", "10002", "ENG", "Story", accAlice, "2026-01-10T12:00", pts(3),
			h.st("2026-01-12T12:00", "1", "3"),
			h.st("2026-01-15T12:00", "3", "10002"),
		), "2026-01-15T12:00"),
		resolved(mk("10016", "OPS-3", "10002", "OPS", "Task", accCarol, "2026-01-20T00:00", pts(2),
			h.st("2026-01-21T00:00", "1", "10002"),
		), "2026-01-21T00:00"),

		// ENG-14: done exactly at now − 28d − 28d: outside the 28d
		// baseline period, inside the 56d one.
		resolved(mk("10017", "ENG-14", "10002", "ENG", "Story", accAlice, "2026-01-01T12:00", pts(13),
			h.st("2026-01-05T12:00", "1", "10002"),
		), "2026-01-05T12:00"),

		// Work in progress now.
		mk("10018", "ENG-15", "10001", "ENG", "Story", accAlice, "2026-02-27T09:00", pts(3),
			h.st("2026-02-28T09:00", "1", "3"),
			h.st("2026-03-01T09:00", "3", "10001"),
		),
		mk("10019", "OPS-4", "3", "OPS", "Task", accZed, "2026-02-25T09:00", nil,
			h.st("2026-02-26T09:00", "1", "3"),
		),
		// DATA-1: untouched since long before the lookback: still WIP.
		mk("10020", "DATA-1", "3", "DATA", "Task", "", "2025-06-01T09:00", nil,
			h.st("2025-06-02T09:00", "1", "3"),
			h.other("2025-07-01T09:00", "labels", "labels", "jira", nil, "", nil, "stale"),
		),
		// ENG-16: Erin (sales, role sdr) in progress.
		mk("10021", "ENG-16", "3", "ENG", "Story", accErin, "2026-02-20T09:00", nil,
			h.st("2026-02-21T09:00", "1", "3"),
		),
		// ENG-17: not started.
		mk("10022", "ENG-17", "1", "ENG", "Story", accBob, "2026-02-25T09:00", pts(2)),

		// OPS-5: Frank, declared by email.
		due(resolved(mk("10023", "OPS-5", "10002", "OPS", "Story", accFrank, "2026-02-24T09:00", pts(2),
			h.st("2026-02-24T10:00", "1", "3"),
			h.st("2026-02-24T16:00", "3", "10002"),
		), "2026-02-24T16:00"), "2026-02-24"),
	}
}

// later is what changes on the site after kpid's first sync, all of it
// updated a few minutes before the newest `updated` kpid has seen
// (ENG-11, 12:00): a search index that showed these changes late. Jira
// clears resolutiondate when an issue leaves the done statuses.
func later(issues []*issue) []*issue {
	h := &histories{next: 5000}
	out := make([]*issue, 0, len(issues)+1)
	for _, old := range issues {
		is := *old
		is.hist = append([]history(nil), old.hist...)
		switch is.key {
		case "ENG-1": // reopened: no longer done, in progress again
			is.status, is.resolved = "3", time.Time{}
			is.hist = append(is.hist, h.st("2026-03-02T11:59", "10002", "3"))
			is.updated = at("2026-03-02T11:59")
		case "ENG-15": // done: cycle 02-28T09:00 → 03-02T11:58, lead from 02-27T09:00
			is.status, is.resolved = "10002", at("2026-03-02T11:58")
			is.hist = append(is.hist, h.st("2026-03-02T11:58", "10001", "10002"))
			is.updated = at("2026-03-02T11:58")
		case "ENG-11": // moved to project OPS: a new key, the same id
			is.key, is.project = "OPS-6", "OPS"
			is.hist = append(is.hist, h.add("2026-03-02T11:55:30",
				histItem{field: "project", fieldtype: "jira", fieldID: "project", from: "10000", fromString: "ENG", to: "10001", toString: "OPS"},
				histItem{field: "Key", fieldtype: "jira", fieldID: "issuekey", fromString: "ENG-11", toString: "OPS-6"}))
			is.updated = at("2026-03-02T11:55:30")
		case "OPS-4": // stopped: back to To Do
			is.status = "1"
			is.hist = append(is.hist, h.st("2026-03-02T11:57", "3", "1"))
			is.updated = at("2026-03-02T11:57")
		}
		out = append(out, &is)
	}
	// ENG-18: new, done 00:30 UTC on the day after its due date: 19:30 on
	// the due date in New York, past its end in Berlin and in UTC. Labelled
	// later in the morning.
	return append(out, &issue{id: "10024", key: "ENG-18", status: "10002", project: "ENG", itype: "Story",
		assignee: accBob, created: at("2026-03-01T20:00"), resolved: at("2026-03-02T00:30"), due: "2026-03-01",
		points: pts(1), updated: at("2026-03-02T11:56"), hist: []history{
			h.st("2026-03-02T00:30", "1", "10002"),
			h.other("2026-03-02T11:56", "labels", "labels", "jira", nil, "", nil, "customer"),
		}})
}
