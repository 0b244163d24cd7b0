// Package github_test is a black-box acceptance test of kpid's GitHub
// connector: the real binary runs against a hand-written fake of the GitHub
// REST API (fake_test.go, written from GitHub's documentation, not from
// kpid's simulator) holding a small hand-made dataset, and every kpi_*
// series of every github_* measure is compared with values worked out by
// hand from SPEC (§4, §4.1, §4.2, §5.2, §6.1, §6.2).
package github_test

import (
	"fmt"
	"math"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kpid/kpid/internal/blackbox"
)

// now is the daemon's frozen KPI clock. Every time below is now + h hours.
var now = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func at(hours float64) time.Time { return now.Add(time.Duration(hours * float64(time.Hour))) }
func atp(hours float64) *time.Time {
	t := at(hours)
	return &t
}
func tp(t time.Time) *time.Time { return &t }

var (
	alice      = ghUser{Login: "alice-gh"} // declared as "Alice-GH": logins compare case-insensitively
	bob        = ghUser{Login: "bob-gh"}
	erin       = ghUser{Login: "erin-gh"}
	yuri       = ghUser{Login: "yuri"} // undeclared
	zed        = ghUser{Login: "zed"}  // undeclared
	dependabot = ghUser{Login: "dependabot[bot]", Type: "Bot"}
	renovate   = ghUser{Login: "renovate-bot"} // a User, listed in `bots`
	ciBot      = ghUser{Login: "ci-checker", Type: "Bot"}
)

func rv(u ghUser, state string, hours float64) ghReview {
	return ghReview{User: u, State: state, Submitted: atp(hours)}
}

// dataset builds the upstream. Window of the 28d KPIs: (now-672h, now].
//
// acme/api (connector teams: platform). Times in hours from now.
//
//	PR    author        created merged  reviews (in order)                         -> cycle pickup review reviewed rework
//	P101  alice         -240    -192    yuri PENDING -230; bob APPROVED -216       -> 48h  24h    24h    1        0
//	P102  yuri          -144    -120    alice CHANGES_REQUESTED -138; alice
//	                                    APPROVED -132                              -> 24h  6h     18h    1        1
//	P103  alice         -100    -72     alice(author) COMMENTED -98; bob COMMENTED
//	                                    -84; bob APPROVED -48 (after the merge)    -> 28h  16h    12h    0        0
//	P104  bob           -48     -24     bob(author) COMMENTED -30                  -> 24h  -      -      0        0
//	P105  dependabot[bot] (type Bot)    merged: no sample at all
//	P106  renovate-bot (in bots)        merged: no sample at all
//	P107  yuri          -170    -144    ci-checker(Bot) CHANGES_REQUESTED -169;
//	                                    renovate-bot APPROVED -168; alice DISMISSED
//	                                    -162; bob APPROVED -156                    -> 26h  8h     18h    1        0
//	P108  alice         -300    -264    renovate-bot APPROVED -280; bob PENDING    -> 36h  -      -      0        0
//	P109  alice closed unmerged
//	P110  alice open (labelled bug: listed by the issues API as a pull request)
//	P111  zed open draft
//	P112  dependabot[bot] open
//	P113  alice         -696    -672 (exactly now-28d: outside the window)     -> 24h (baseline)
//	P114  yuri          -691    -671                                           -> 20h  -      -      0        0
//	P115  alice     -702h-1s  -672h-1s (just outside the window)               -> 30h (baseline)
//	P116  zed           -12     0 (exactly now: inside)                        -> 12h  -      -      0        0
//
// acme/web (no team mapping):
//
//	W201  bob           -500    -456    alice APPROVED -470                        -> 44h  30h    14h    1        0
//	W202  zed           -362    -348    bob CHANGES_REQUESTED -354                 -> 14h  8h     6h     0        1
//	W203  erin          -200    -190    -                                          -> 10h  -      -      0        0
//	W204  bob           -1000   -976 (baseline; on page 2 of the listing)       -> 24h
//	W205  bob open (-6)
//	W206  bob open, created -2500, updated -2400 (older than lookback 90d = 2160h)
//	W207  zed           -2300   -2      (created before the lookback)           -> 2298h -    -      0        0
//	W208  zed closed unmerged, created -2250, closed -2200 (before the lookback)
//	W209  bob           -2040   -2016 (exactly now-28d-56d: outside the baseline)
//	120 dependabot[bot] open pull requests (two pages of listings)
func dataset() map[string]*ghRepo {
	api := &ghRepo{
		Pulls: []*ghPull{
			{Name: "P101", User: alice, Created: at(-240), Updated: at(-192), Closed: atp(-192), Merged: atp(-192),
				Reviews: []ghReview{rv(yuri, "PENDING", -230), rv(bob, "APPROVED", -216)}},
			{Name: "P102", User: yuri, Created: at(-144), Updated: at(-120), Closed: atp(-120), Merged: atp(-120),
				Reviews: []ghReview{rv(alice, "CHANGES_REQUESTED", -138), rv(alice, "APPROVED", -132)}},
			{Name: "P103", User: alice, Created: at(-100), Updated: at(-48), Closed: atp(-72), Merged: atp(-72),
				Reviews: []ghReview{rv(alice, "COMMENTED", -98), rv(bob, "COMMENTED", -84), rv(bob, "APPROVED", -48)}},
			{Name: "P104", User: bob, Created: at(-48), Updated: at(-24), Closed: atp(-24), Merged: atp(-24),
				Reviews: []ghReview{rv(bob, "COMMENTED", -30)}},
			{Name: "P105", User: dependabot, Created: at(-72), Updated: at(-60), Closed: atp(-60), Merged: atp(-60),
				Reviews: []ghReview{rv(alice, "APPROVED", -66)}},
			{Name: "P106", User: renovate, Created: at(-50), Updated: at(-40), Closed: atp(-40), Merged: atp(-40),
				Reviews: []ghReview{rv(bob, "CHANGES_REQUESTED", -45)}},
			{Name: "P107", User: yuri, Created: at(-170), Updated: at(-144), Closed: atp(-144), Merged: atp(-144),
				Reviews: []ghReview{rv(ciBot, "CHANGES_REQUESTED", -169), rv(renovate, "APPROVED", -168),
					rv(alice, "DISMISSED", -162), rv(bob, "APPROVED", -156)}},
			{Name: "P108", User: alice, Created: at(-300), Updated: at(-264), Closed: atp(-264), Merged: atp(-264),
				Reviews: []ghReview{rv(renovate, "APPROVED", -280), {User: bob, State: "PENDING"}}},
			{Name: "P109", User: alice, Created: at(-100), Updated: at(-90), Closed: atp(-90)},
			{Name: "P110", User: alice, Created: at(-30), Updated: at(-29), Labels: []string{"bug"}},
			{Name: "P111", User: zed, Created: at(-20), Updated: at(-20), Draft: true},
			{Name: "P112", User: dependabot, Created: at(-10), Updated: at(-10)},
			{Name: "P113", User: alice, Created: at(-696), Updated: at(-672), Closed: atp(-672), Merged: atp(-672)},
			{Name: "P114", User: yuri, Created: at(-691), Updated: at(-671), Closed: atp(-671), Merged: atp(-671)},
			{Name: "P115", User: alice, Created: now.Add(-702*time.Hour - time.Second), Updated: now.Add(-672*time.Hour - time.Second),
				Closed: tp(now.Add(-672*time.Hour - time.Second)), Merged: tp(now.Add(-672*time.Hour - time.Second))},
			{Name: "P116", User: zed, Created: at(-12), Updated: at(0), Closed: atp(0), Merged: atp(0)},
		},
		// Incidents: I1 10h (closed -190), I3 100h (closed -700), I4 2h
		// (closed -28, also a bug); I2 open. Bugs: B1 -100, B2 -400, I4 -30
		// (in the window), B3 -700 (baseline). P110 (a pull request
		// labelled bug) and Q1 (no tracked label) give nothing.
		Issues: []*ghIssue{
			{Name: "I1", Created: at(-200), Updated: at(-190), Closed: atp(-190), Labels: []string{"incident"}},
			{Name: "I2", Created: at(-50), Updated: at(-40), Labels: []string{"incident", "sev2"}},
			{Name: "I3", Created: at(-800), Updated: at(-700), Closed: atp(-700), Labels: []string{"incident"}},
			{Name: "I4", Created: at(-30), Updated: at(-28), Closed: atp(-28), Labels: []string{"bug", "incident"}},
			{Name: "B1", Created: at(-100), Updated: at(-100), Labels: []string{"bug"}},
			{Name: "B2", Created: at(-400), Updated: at(-300), Closed: atp(-300), Labels: []string{"bug", "ui"}},
			{Name: "B3", Created: at(-700), Updated: at(-690), Closed: atp(-690), Labels: []string{"bug"}},
			{Name: "Q1", Created: at(-10), Updated: at(-10), Labels: []string{"question"}},
			// B5: created at exactly now-28d-28d, outside the bugs baseline.
			{Name: "B5", Created: at(-1344), Updated: at(-1344), Labels: []string{"bug"}},
			// I6: closed at exactly now-90d, outside the 90d window.
			{Name: "I6", Created: at(-2200), Updated: at(-2160), Closed: atp(-2160), Labels: []string{"incident"}},
		},
		// Linear history; deployments ship s0, s1, s3, s6, s7, s8.
		Commits: []ghCommit{
			{"sb", at(-2600)}, {"s0", at(-950)}, {"s1", at(-520)}, {"s2", at(-320)}, {"s3", at(-310)}, {"s4", at(-150)},
			{"s5", at(-101)}, {"s6", at(-100)}, {"s7", at(-60)}, {"s8", at(-10)},
		},
		Deployments: []*ghDeployment{
			// Dold: older than the lookback (90d = 2160h): never read.
			{ID: 998, SHA: "sb", Env: "production", Created: at(-2500), Statuses: []ghStatus{{"success", at(-2499)}}},
			// Db: succeeded at exactly now-90d: outside the 90d window.
			{ID: 999, SHA: "sb", Env: "production", Created: at(-2160), Statuses: []ghStatus{{"success", at(-2160)}}},
			// D0: the first success seen: no lead time.
			{ID: 1000, SHA: "s0", Env: "production", Created: at(-900.5), Statuses: []ghStatus{
				{"in_progress", at(-900.25)}, {"success", at(-900)}, {"inactive", at(-499)}}},
			// D1: success -499, compared with s0: s1 (-520) -> 21h.
			{ID: 1001, SHA: "s1", Env: "production", Created: at(-500), Statuses: []ghStatus{
				{"queued", at(-500)}, {"in_progress", at(-499.5)}, {"success", at(-499)}, {"inactive", at(-99)}}},
			// D2: first terminal status failure -299; the later success changes nothing.
			{ID: 1002, SHA: "s3", Env: "production", Created: at(-300), Statuses: []ghStatus{
				{"in_progress", at(-299.5)}, {"failure", at(-299)}, {"success", at(-298)}}},
			// D3: success -99, compared with s1 (the previous success, not
			// the failed s3): s2..s6 -> 221h, 211h, 51h, 2h, 1h.
			{ID: 1003, SHA: "s6", Env: "production", Created: at(-100), Statuses: []ghStatus{
				{"queued", at(-100)}, {"in_progress", at(-99.5)}, {"success", at(-99)}}},
			// D4: error -49.
			{ID: 1004, SHA: "s7", Env: "production", Created: at(-50), Statuses: []ghStatus{{"error", at(-49)}}},
			// D5: not terminal yet.
			{ID: 1005, SHA: "s8", Env: "production", Created: at(-5), Statuses: []ghStatus{
				{"queued", at(-5)}, {"in_progress", at(-4)}}},
			// D6: staging, not a production environment.
			{ID: 1006, SHA: "s7", Env: "staging", Created: at(-40), Statuses: []ghStatus{{"success", at(-39)}}},
		},
	}
	web := &ghRepo{
		Pulls: []*ghPull{
			{Name: "W201", User: bob, Created: at(-500), Updated: at(-456), Closed: atp(-456), Merged: atp(-456),
				Reviews: []ghReview{rv(alice, "APPROVED", -470)}},
			{Name: "W202", User: zed, Created: at(-362), Updated: at(-348), Closed: atp(-348), Merged: atp(-348),
				Reviews: []ghReview{rv(bob, "CHANGES_REQUESTED", -354)}},
			{Name: "W203", User: erin, Created: at(-200), Updated: at(-190), Closed: atp(-190), Merged: atp(-190)},
			{Name: "W204", User: bob, Created: at(-1000), Updated: at(-976), Closed: atp(-976), Merged: atp(-976)},
			{Name: "W205", User: bob, Created: at(-6), Updated: at(-5)},
			{Name: "W206", User: bob, Created: at(-2500), Updated: at(-2400)},
			{Name: "W207", User: zed, Created: at(-2300), Updated: at(-2), Closed: atp(-2), Merged: atp(-2)},
			{Name: "W208", User: zed, Created: at(-2250), Updated: at(-2200), Closed: atp(-2200)},
			// W209: merged at exactly now-28d-56d, outside the baseline.
			{Name: "W209", User: bob, Created: at(-2040), Updated: at(-2016), Closed: atp(-2016), Merged: atp(-2016)},
		},
		// I5 incident 4h (closed -96, no team); B4 bug -10.
		Issues: []*ghIssue{
			{Name: "I5", Created: at(-100), Updated: at(-96), Closed: atp(-96), Labels: []string{"incident"}},
			{Name: "B4", Created: at(-10), Updated: at(-10), Labels: []string{"bug"}},
		},
		Deployments: []*ghDeployment{
			// DW0: the first success of acme/web: no lead time, no team.
			{ID: 2000, SHA: "w0", Env: "production", Created: at(-251), Statuses: []ghStatus{{"success", at(-250)}}},
			// DW1: ships 1005 commits authored at -100h: the comparison is
			// read in pages and cut at 1000 commits (80h each).
			{ID: 2001, SHA: "wc1005", Env: "production", Created: at(-21), Statuses: []ghStatus{{"success", at(-20)}}},
		},
	}
	web.Commits = []ghCommit{{"w0", at(-300)}}
	for i := 1; i <= 1005; i++ {
		web.Commits = append(web.Commits, ghCommit{fmt.Sprintf("wc%04d", i), at(-100)})
	}
	for i := range 120 {
		web.Pulls = append(web.Pulls, &ghPull{Name: fmt.Sprintf("bot%d", i), User: dependabot,
			Created: at(-900 - float64(i)), Updated: at(-800 - float64(i))})
	}
	// acme/docs (connector teams: docs) has nothing at all.
	return map[string]*ghRepo{"acme/api": api, "acme/web": web, "acme/docs": {}}
}

const config = `
teams: [platform, web, ops, docs, support, sales]
people:
  - {id: alice, name: Alice, team: platform, roles: [developer], github: Alice-GH}
  - {id: bob, team: web, roles: [developer], github: bob-gh}
  - {id: carol, team: support, roles: [support], zendesk: "360000000001"}
  - {id: erin, team: ops, roles: [sre], github: erin-gh}
connectors:
  - name: gh
    type: github
    schedule: "@every 1s"
    base_url: %s
    token: secret-token
    repos: [acme/api, acme/web, acme/docs]
    production_environments: [production]
    incident_labels: [incident]
    bug_labels: [bug]
    bots: [Renovate-Bot]
    teams: {acme/api: platform, acme/docs: docs}
kpis:
  - {id: merged_weekly, measure: github_pr_merged, stat: count, per: week, window: 28d, baseline: 56d,
     scope: [org, team, person], roles: [developer]}
  - {id: merged, measure: github_pr_merged, stat: count, window: 28d, baseline: 56d, target: 10,
     scope: [org, team, person], roles: [developer]}
  - {id: cycle, measure: github_pr_cycle_time_seconds, stat: p50, window: 28d, baseline: 56d, target: 30h,
     scope: [org, team, person]}
  - {id: cycle_p90, measure: github_pr_cycle_time_seconds, stat: p90, window: 28d, scope: [org, team, person]}
  - {id: pickup, measure: github_pr_pickup_time_seconds, stat: mean, window: 28d, target: 16h,
     scope: [org, team, person], roles: [developer]}
  - {id: review_fast, measure: github_pr_review_time_seconds, stat: fraction_le, threshold: 12h, window: 28d,
     target: 50%%, scope: [org, team, person], roles: [developer]}
  - {id: reviewed, measure: github_pr_reviewed, stat: mean, window: 28d, target: 0.9,
     targets: {"team:ops": 0, "person:alice": 0.3}, scope: [org, team, person], roles: [developer]}
  - {id: rework, measure: github_pr_rework, stat: sum, window: 28d, target: 1, scope: [org, team, person], roles: [developer]}
  - {id: open_prs, measure: github_prs_open, stat: count, window: 28d, target: 2, scope: [org, team, person], roles: [developer]}
  - {id: deploys, measure: github_deployments, stat: count, per: week, window: 28d, target: 0.5, scope: [org, team, person]}
  - {id: cfr, measure: github_deployment_failed, stat: mean, window: 90d, target: 0.15,
     targets: {"team:platform": 0.5}, scope: [org, team]}
  - {id: lead, measure: github_lead_time_seconds, stat: p50, window: 28d, target: 24h}
  - {id: restore, measure: github_incident_restore_time_seconds, stat: p50, windows: [28d, 90d], target: 24h,
     scope: [org, team, person]}
  - {id: bugs, measure: github_bugs_opened, stat: sum, window: 28d, baseline: 28d, scope: [org, team]}
  - {id: merged_web, measure: github_pr_merged, stat: count, window: 28d, filter: {repo: acme/web}, scope: [org, team]}
`

// want is an expected set of kpi_* series.
type want map[string]float64

func f(v float64) *float64 { return &v }

// row adds one series: its sample count, and value, target, on-target and
// baseline when not nil (nil: the series must not exist).
func (w want) row(kpi, window, team, person string, samples float64, value, target, onTarget, baseline *float64) {
	labels := []string{"kpi", kpi, "window", window, "team", team, "person", person}
	w[blackbox.Key("kpi_samples", labels...)] = samples
	for fam, v := range map[string]*float64{"kpi_value": value, "kpi_target": target, "kpi_on_target": onTarget, "kpi_baseline": baseline} {
		if v != nil {
			w[blackbox.Key(fam, labels...)] = *v
		}
	}
}

const h = 3600.0

func expected(phase int) map[string]want {
	all := map[string]want{}
	kpi := func(id string) want { w := want{}; all[id] = w; return w }

	// Merged, non-bot pull requests in (now-672h, now] (12):
	//   platform: P101, P103, P108 (alice), P102, P107, P114, P116 (mapping) = 7
	//   web: P104, W201 (bob) = 2;  ops: W203 (erin) = 1;  no team: W202, W207
	// In the baseline period (now-672h-56d, now-672h] = (-2016h, -672h]:
	//   P113 (at exactly -672h), P115 (alice, platform), W204 (bob, web) = 3.
	//
	// Team scope (SPEC 6.1): the teams of the person scope's people, the
	// teams of the connector's mapping (platform, docs) and any team on a
	// stored sample of the measure; never support or sales (no GitHub
	// identity, no mapping, no sample). docs has no sample at all: it holds
	// 0 for count/sum and no value for other stats.
	// Person scope: declared people with a GitHub identity holding one of
	// the KPI's roles: alice and bob for roles [developer] (erin is an sre;
	// her team ops still shows where she has samples), alice, bob and erin
	// when the KPI lists no role. Never yuri or zed (undeclared), nor
	// carol (no GitHub identity).

	// count per week: count / 4 weeks; baseline: count / 8 weeks.
	w := kpi("merged_weekly")
	w.row("merged_weekly", "28d", "", "", 12, f(12.0/4), nil, nil, f(3.0/8))
	w.row("merged_weekly", "28d", "platform", "", 7, f(7.0/4), nil, nil, f(2.0/8))
	w.row("merged_weekly", "28d", "web", "", 2, f(2.0/4), nil, nil, f(1.0/8))
	w.row("merged_weekly", "28d", "ops", "", 1, f(1.0/4), nil, nil, f(0))
	w.row("merged_weekly", "28d", "docs", "", 0, f(0), nil, nil, f(0))
	w.row("merged_weekly", "28d", "platform", "alice", 3, f(3.0/4), nil, nil, f(2.0/8))
	w.row("merged_weekly", "28d", "web", "bob", 2, f(2.0/4), nil, nil, f(1.0/8))

	// count without per: baseline scaled by window/baseline = 28/56.
	// target 10, higher.
	w = kpi("merged")
	w.row("merged", "28d", "", "", 12, f(12), f(10), f(1), f(3*0.5))
	w.row("merged", "28d", "platform", "", 7, f(7), f(10), f(0), f(2*0.5))
	w.row("merged", "28d", "web", "", 2, f(2), f(10), f(0), f(1*0.5))
	w.row("merged", "28d", "ops", "", 1, f(1), f(10), f(0), f(0))
	w.row("merged", "28d", "docs", "", 0, f(0), f(10), f(0), f(0))
	w.row("merged", "28d", "platform", "alice", 3, f(3), f(10), f(0), f(2*0.5))
	w.row("merged", "28d", "web", "bob", 2, f(2), f(10), f(0), f(1*0.5))

	// Only the samples labelled repo=acme/web: W201 (bob, web), W202 (no
	// team), W203 (erin, ops), W207 (no team).
	w = kpi("merged_web")
	w.row("merged_web", "28d", "", "", 4, f(4), nil, nil, nil)
	w.row("merged_web", "28d", "platform", "", 0, f(0), nil, nil, nil)
	w.row("merged_web", "28d", "web", "", 1, f(1), nil, nil, nil)
	w.row("merged_web", "28d", "ops", "", 1, f(1), nil, nil, nil)
	w.row("merged_web", "28d", "docs", "", 0, f(0), nil, nil, nil)

	// Cycle time (hours), no roles: people alice, bob, erin.
	//   org: 10,12,14,20,24,24,26,28,36,44,48,2298  (n=12)
	//     p50: h=5.5 -> 24+0.5*(26-24) = 25h;  p90: h=9.9 -> 44+0.9*(48-44) = 47.6h
	//   platform: 12,20,24,26,28,36,48  p50: x3 = 26h;  p90: h=5.4 -> 36+0.4*12 = 40.8h
	//   web (= bob): 24,44  p50: h=0.5 -> 34h;  p90: h=0.9 -> 24+0.9*20 = 42h
	//   ops (= erin): 10h
	//   alice: 28,36,48  p50: 36h;  p90: h=1.8 -> 36+0.8*12 = 45.6h
	// Baseline (-2016h, -672h]: P113 24h, P115 30h (alice, platform), W204 24h (bob, web)
	//   org 24,24,30 -> 24h; platform/alice 24,30 -> 27h; web/bob 24h;
	//   ops/erin/docs: no sample -> no baseline.
	// target 30h = 108000, lower.
	w = kpi("cycle")
	w.row("cycle", "28d", "", "", 12, f(25*h), f(30*h), f(1), f(24*h))
	w.row("cycle", "28d", "platform", "", 7, f(26*h), f(30*h), f(1), f(27*h))
	w.row("cycle", "28d", "web", "", 2, f(34*h), f(30*h), f(0), f(24*h))
	w.row("cycle", "28d", "ops", "", 1, f(10*h), f(30*h), f(1), nil)
	w.row("cycle", "28d", "docs", "", 0, nil, f(30*h), nil, nil)
	w.row("cycle", "28d", "platform", "alice", 3, f(36*h), f(30*h), f(0), f(27*h))
	w.row("cycle", "28d", "web", "bob", 2, f(34*h), f(30*h), f(0), f(24*h))
	w.row("cycle", "28d", "ops", "erin", 1, f(10*h), f(30*h), f(1), nil)

	w = kpi("cycle_p90")
	w.row("cycle_p90", "28d", "", "", 12, f(47.6*h), nil, nil, nil)
	w.row("cycle_p90", "28d", "platform", "", 7, f(40.8*h), nil, nil, nil)
	w.row("cycle_p90", "28d", "web", "", 2, f(42*h), nil, nil, nil)
	w.row("cycle_p90", "28d", "ops", "", 1, f(10*h), nil, nil, nil)
	w.row("cycle_p90", "28d", "docs", "", 0, nil, nil, nil, nil)
	w.row("cycle_p90", "28d", "platform", "alice", 3, f(45.6*h), nil, nil, nil)
	w.row("cycle_p90", "28d", "web", "bob", 2, f(42*h), nil, nil, nil)
	w.row("cycle_p90", "28d", "ops", "erin", 1, f(10*h), nil, nil, nil)

	// Pickup (hours): P101 24 (alice; the PENDING review at -230 does not
	// count), P102 6, P103 16 (alice; her own review at -98 does not
	// count), P107 8 (the bots' reviews do not count; the DISMISSED one
	// does), all platform; W201 30 (bob, web); W202 8 (no team).
	//   org: 92/6 = 15.333h;  platform: 54/4 = 13.5h;  web/bob: 30h;  alice: 40/2 = 20h
	// No ops series: erin is not a developer and no pickup sample has team ops.
	// target 16h = 57600, lower.
	w = kpi("pickup")
	w.row("pickup", "28d", "", "", 6, f(92*h/6), f(16*h), f(1), nil)
	w.row("pickup", "28d", "platform", "", 4, f(13.5*h), f(16*h), f(1), nil)
	w.row("pickup", "28d", "web", "", 1, f(30*h), f(16*h), f(0), nil)
	w.row("pickup", "28d", "docs", "", 0, nil, f(16*h), nil, nil)
	w.row("pickup", "28d", "platform", "alice", 2, f(20*h), f(16*h), f(0), nil)
	w.row("pickup", "28d", "web", "bob", 1, f(30*h), f(16*h), f(0), nil)

	// Review time (hours): P101 24, P102 18, P103 12, P107 18 (platform;
	// P101, P103 alice); W201 14 (bob, web); W202 6 (no team).
	// fraction <= 12h: org 2/6 (P103, W202); platform 1/4; web 0/1;
	// alice 1/2; bob 0/1. target 50% -> 0.5, higher (fraction_le).
	w = kpi("review_fast")
	w.row("review_fast", "28d", "", "", 6, f(2.0/6), f(0.5), f(0), nil)
	w.row("review_fast", "28d", "platform", "", 4, f(0.25), f(0.5), f(0), nil)
	w.row("review_fast", "28d", "web", "", 1, f(0), f(0.5), f(0), nil)
	w.row("review_fast", "28d", "docs", "", 0, nil, f(0.5), nil, nil)
	w.row("review_fast", "28d", "platform", "alice", 2, f(0.5), f(0.5), f(1), nil)
	w.row("review_fast", "28d", "web", "bob", 1, f(0), f(0.5), f(0), nil)

	// Reviewed (APPROVED by a non-author non-bot before merged_at):
	//   1: P101, P102, P107, W201;  0: P103 (approved after the merge),
	//   P104 (author only), P108 (bot approval, pending review), P114,
	//   P116, W202, W203, W207.
	//   org 4/12; platform 3/7; web 1/2; ops 0/1; alice 1/3; bob 1/2.
	// targets: 0.9, team:ops 0 (no ops person series: erin is not a
	// developer), person:alice 0.3; higher.
	w = kpi("reviewed")
	w.row("reviewed", "28d", "", "", 12, f(4.0/12), f(0.9), f(0), nil)
	w.row("reviewed", "28d", "platform", "", 7, f(3.0/7), f(0.9), f(0), nil)
	w.row("reviewed", "28d", "web", "", 2, f(0.5), f(0.9), f(0), nil)
	w.row("reviewed", "28d", "ops", "", 1, f(0), f(0), f(1), nil)
	w.row("reviewed", "28d", "docs", "", 0, nil, f(0.9), nil, nil)
	w.row("reviewed", "28d", "platform", "alice", 3, f(1.0/3), f(0.3), f(1), nil)
	w.row("reviewed", "28d", "web", "bob", 2, f(0.5), f(0.9), f(0), nil)

	// Rework (any CHANGES_REQUESTED, bots' ignored): P102 (platform), W202
	// (no team); P107's only CHANGES_REQUESTED is a bot's. sum; target 1,
	// lower.
	w = kpi("rework")
	w.row("rework", "28d", "", "", 12, f(2), f(1), f(0), nil)
	w.row("rework", "28d", "platform", "", 7, f(1), f(1), f(1), nil)
	w.row("rework", "28d", "web", "", 2, f(0), f(1), f(1), nil)
	w.row("rework", "28d", "ops", "", 1, f(0), f(1), f(1), nil)
	w.row("rework", "28d", "docs", "", 0, f(0), f(1), f(1), nil)
	w.row("rework", "28d", "platform", "alice", 3, f(0), f(1), f(1), nil)
	w.row("rework", "28d", "web", "bob", 2, f(0), f(1), f(1), nil)

	// Open PRs now (snapshot, SPEC 4.2): P110 alice, P111 zed draft
	// (platform by the mapping), W205 and W206 bob (W206 older than the
	// lookback, on page 2 of the open listing); bots' excluded. No ops
	// series (erin excluded by roles, no sample of team ops). target 2,
	// lower.
	w = kpi("open_prs")
	w.row("open_prs", "28d", "", "", 4, f(4), f(2), f(0), nil)
	w.row("open_prs", "28d", "platform", "", 2, f(2), f(2), f(1), nil)
	w.row("open_prs", "28d", "web", "", 2, f(2), f(2), f(1), nil)
	w.row("open_prs", "28d", "docs", "", 0, f(0), f(2), f(1), nil)
	w.row("open_prs", "28d", "platform", "alice", 1, f(1), f(2), f(1), nil)
	w.row("open_prs", "28d", "web", "bob", 2, f(2), f(2), f(1), nil)

	// Successful production deployments in the window: D1 (-499), D3
	// (-99) in acme/api (platform), DW0 (-250), DW1 (-20) in acme/web (no
	// team); D0 (-900) is outside, D2 and D4 failed, D5 is pending, D6 is
	// staging, Dold is older than the lookback.
	// count per week: org 4/4, platform 2/4. Deployment samples have no
	// person: every person series (alice, bob, erin: GitHub identities, no
	// roles asked) holds 0, as do teams web, ops and docs. target 0.5,
	// higher.
	w = kpi("deploys")
	w.row("deploys", "28d", "", "", 4, f(1), f(0.5), f(1), nil)
	w.row("deploys", "28d", "platform", "", 2, f(0.5), f(0.5), f(1), nil)
	for _, team := range []string{"web", "ops", "docs"} {
		w.row("deploys", "28d", team, "", 0, f(0), f(0.5), f(0), nil)
	}
	w.row("deploys", "28d", "platform", "alice", 0, f(0), f(0.5), f(0), nil)
	w.row("deploys", "28d", "web", "bob", 0, f(0), f(0.5), f(0), nil)
	w.row("deploys", "28d", "ops", "erin", 0, f(0), f(0.5), f(0), nil)

	// Deployment failed, 90d = (-2160h, now]: D0 0, D1 0, D2 1 (failure
	// first, success after), D3 0, D4 1 (error) in platform; DW0 0, DW1 0
	// (no team). org 2/7; platform 2/5. web, ops, docs: no sample -> no
	// value. targets 0.15, team:platform 0.5; lower.
	w = kpi("cfr")
	w.row("cfr", "90d", "", "", 7, f(2.0/7), f(0.15), f(0), nil)
	w.row("cfr", "90d", "platform", "", 5, f(0.4), f(0.5), f(1), nil)
	for _, team := range []string{"web", "ops", "docs"} {
		w.row("cfr", "90d", team, "", 0, nil, f(0.15), nil, nil)
	}

	// Lead time (hours), default scope [org, team]: D1: 21 (s1); D3
	// (compared with D1's s1, so the failed D2's commits count): 221, 211,
	// 51, 2, 1. All acme/api (platform): sorted 1,2,21,51,211,221, p50
	// h=2.5 -> 21+0.5*30 = 36h. DW1 (acme/web, no team): 1000 of its 1005
	// commits (truncated), 80h each. org: n=1006, h=502.5 -> x502 = x503
	// = 80h. target 24h, lower.
	w = kpi("lead")
	w.row("lead", "28d", "", "", 1006, f(80*h), f(24*h), f(0), nil)
	w.row("lead", "28d", "platform", "", 6, f(36*h), f(24*h), f(0), nil)
	for _, team := range []string{"web", "ops", "docs"} {
		w.row("lead", "28d", team, "", 0, nil, f(24*h), nil, nil)
	}

	// Restore time (hours) of closed incidents: I1 10 (-190), I3 100
	// (-700), I4 2 (-28) in platform; I5 4 (-96) no team; I2 is open.
	//   28d: org 2,4,10 -> 4h; platform 2,10 -> 6h
	//   90d: org 2,4,10,100 -> h=1.5 -> 4+0.5*6 = 7h; platform 2,10,100 -> 10h
	// Incident samples have no person: alice, bob and erin hold no sample
	// and no value. target 24h, lower.
	w = kpi("restore")
	for _, win := range []struct {
		name         string
		orgN, orgV   float64
		platN, platV float64
	}{{"28d", 3, 4 * h, 2, 6 * h}, {"90d", 4, 7 * h, 3, 10 * h}} {
		w.row("restore", win.name, "", "", win.orgN, f(win.orgV), f(24*h), f(1), nil)
		w.row("restore", win.name, "platform", "", win.platN, f(win.platV), f(24*h), f(1), nil)
		for _, team := range []string{"web", "ops", "docs"} {
			w.row("restore", win.name, team, "", 0, nil, f(24*h), nil, nil)
		}
		w.row("restore", win.name, "platform", "alice", 0, nil, f(24*h), nil, nil)
		w.row("restore", win.name, "web", "bob", 0, nil, f(24*h), nil, nil)
		w.row("restore", win.name, "ops", "erin", 0, nil, f(24*h), nil, nil)
	}

	// Bugs opened: in the window B1 (-100), B2 (-400), I4 (-30) in
	// platform, B4 (-10) no team; baseline (-1344h, -672h]: B3 (-700),
	// sum scaled by 28/28. P110 is a pull request: skipped.
	w = kpi("bugs")
	w.row("bugs", "28d", "", "", 4, f(4), nil, nil, f(1))
	w.row("bugs", "28d", "platform", "", 3, f(3), nil, nil, f(1))
	for _, team := range []string{"web", "ops", "docs"} {
		w.row("bugs", "28d", team, "", 0, f(0), nil, nil, f(0))
	}
	if phase == 1 {
		return all
	}

	// Phase 2: P117 (bob: team web, though in acme/api) merged at -2m,
	// created -3h: cycle 2h58m = 10680s (2.9667h). Its only review, alice
	// APPROVED at -1m, came after the merge: reviewed 0, and, SPEC 4.1 to
	// the letter (the first review by someone else, whenever it came),
	// pickup 2h59m = 10740s and review time merged - review = -60s.
	// rework 0. P110 closed. D5 succeeded at -3h: compared with D3's s6
	// (D4 failed): s7 (-60h) 57h, s8 (-10h) 7h.
	// The rows that change; the others stay as in phase 1.
	w = all["merged_weekly"]
	w.row("merged_weekly", "28d", "", "", 13, f(13.0/4), nil, nil, f(3.0/8))
	w.row("merged_weekly", "28d", "web", "", 3, f(3.0/4), nil, nil, f(1.0/8))
	w.row("merged_weekly", "28d", "web", "bob", 3, f(3.0/4), nil, nil, f(1.0/8))
	w = all["merged"]
	w.row("merged", "28d", "", "", 13, f(13), f(10), f(1), f(1.5))
	w.row("merged", "28d", "web", "", 3, f(3), f(10), f(0), f(0.5))
	w.row("merged", "28d", "web", "bob", 3, f(3), f(10), f(0), f(0.5))
	// cycle, org: 2.97,10,12,14,20,24,24,26,28,36,44,48,2298 (n=13)
	//   p50: h=6 -> 24h;  p90: h=10.8 -> 44+0.8*4 = 47.2h
	// web (= bob): 2.97,24,44  p50: h=1 -> 24h (now on target);
	//   p90: h=1.8 -> 24+0.8*20 = 40h
	w = all["cycle"]
	w.row("cycle", "28d", "", "", 13, f(24*h), f(30*h), f(1), f(24*h))
	w.row("cycle", "28d", "web", "", 3, f(24*h), f(30*h), f(1), f(24*h))
	w.row("cycle", "28d", "web", "bob", 3, f(24*h), f(30*h), f(1), f(24*h))
	w = all["cycle_p90"]
	w.row("cycle_p90", "28d", "", "", 13, f(47.2*h), nil, nil, nil)
	w.row("cycle_p90", "28d", "web", "", 3, f(40*h), nil, nil, nil)
	w.row("cycle_p90", "28d", "web", "bob", 3, f(40*h), nil, nil, nil)
	// pickup: org (331200+10740)/7 = 48848.57s; web/bob (108000+10740)/2 = 59370s.
	w = all["pickup"]
	w.row("pickup", "28d", "", "", 7, f((331200+10740)/7.0), f(16*h), f(1), nil)
	w.row("pickup", "28d", "web", "", 2, f(59370), f(16*h), f(0), nil)
	w.row("pickup", "28d", "web", "bob", 2, f(59370), f(16*h), f(0), nil)
	// review time <= 12h: org 3/7 (P103, W202, P117); web/bob 1/2 (on target).
	w = all["review_fast"]
	w.row("review_fast", "28d", "", "", 7, f(3.0/7), f(0.5), f(0), nil)
	w.row("review_fast", "28d", "web", "", 2, f(0.5), f(0.5), f(1), nil)
	w.row("review_fast", "28d", "web", "bob", 2, f(0.5), f(0.5), f(1), nil)
	w = all["reviewed"]
	w.row("reviewed", "28d", "", "", 13, f(4.0/13), f(0.9), f(0), nil)
	w.row("reviewed", "28d", "web", "", 3, f(1.0/3), f(0.9), f(0), nil)
	w.row("reviewed", "28d", "web", "bob", 3, f(1.0/3), f(0.9), f(0), nil)
	w = all["rework"]
	w.row("rework", "28d", "", "", 13, f(2), f(1), f(0), nil)
	w.row("rework", "28d", "web", "", 3, f(0), f(1), f(1), nil)
	w.row("rework", "28d", "web", "bob", 3, f(0), f(1), f(1), nil)
	// open: P111 (platform), W205, W206 (bob).
	w = all["open_prs"]
	w.row("open_prs", "28d", "", "", 3, f(3), f(2), f(0), nil)
	w.row("open_prs", "28d", "platform", "", 1, f(1), f(2), f(1), nil)
	w.row("open_prs", "28d", "platform", "alice", 0, f(0), f(2), f(1), nil)
	// deployments: org 5/4, platform 3/4; failed: org 2/8, platform 2/6.
	w = all["deploys"]
	w.row("deploys", "28d", "", "", 5, f(1.25), f(0.5), f(1), nil)
	w.row("deploys", "28d", "platform", "", 3, f(0.75), f(0.5), f(1), nil)
	w = all["cfr"]
	w.row("cfr", "90d", "", "", 8, f(0.25), f(0.15), f(0), nil)
	w.row("cfr", "90d", "platform", "", 6, f(2.0/6), f(0.5), f(1), nil)
	// lead, platform: 1,2,7,21,51,57,211,221  p50: h=3.5 -> 21+0.5*30 = 36h;
	// org: n=1008, h=503.5 -> x503 = x504 = 80h.
	w = all["lead"]
	w.row("lead", "28d", "", "", 1008, f(80*h), f(24*h), f(0), nil)
	w.row("lead", "28d", "platform", "", 8, f(36*h), f(24*h), f(0), nil)
	return all
}

func approx(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func diff(got map[string]float64, w want) []string {
	var out []string
	for k, v := range w {
		g, ok := got[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("missing %s (want %v)", k, v))
		case !approx(g, v):
			out = append(out, fmt.Sprintf("%s = %v, want %v", k, g, v))
		}
	}
	for k, g := range got {
		if _, ok := w[k]; !ok {
			out = append(out, fmt.Sprintf("unexpected %s = %v", k, g))
		}
	}
	sort.Strings(out)
	return out
}

func run(t *testing.T, ignoreSort bool, prefix string) {
	fake := &fakeGitHub{prefix: prefix, token: "secret-token", ignoreSort: ignoreSort, repos: dataset()}
	fake.number()
	up := httptest.NewServer(fake)
	t.Cleanup(up.Close)

	d := blackbox.Start(t, fmt.Sprintf(config, up.URL+prefix+"/"), now)
	m := d.WaitSynced(t, "gh")
	check(t, "first sync", m, expected(1))
	if t.Failed() {
		return
	}

	// Between syncs (every second; the fake sends no ETag, so every one
	// re-reads from its cursors): P117 shows up, merged 2 minutes ago,
	// within the overlap of the last walk's high-water mark (P116, at
	// now); P110 is closed; the pending D5 succeeds.
	fake.change(func(repos map[string]*ghRepo) {
		api := repos["acme/api"]
		api.addPull(&ghPull{Name: "P117", User: bob, Created: at(-3), Updated: now.Add(-time.Minute),
			Closed: tp(now.Add(-2 * time.Minute)), Merged: tp(now.Add(-2 * time.Minute)),
			Reviews: []ghReview{{User: alice, State: "APPROVED", Submitted: tp(now.Add(-time.Minute))}}})
		for _, p := range api.Pulls {
			if p.Name == "P110" {
				p.Closed, p.Updated = tp(now.Add(-time.Minute)), now.Add(-time.Minute)
			}
		}
		for _, d := range api.Deployments {
			if d.ID == 1005 {
				d.Statuses = append(d.Statuses, ghStatus{"success", at(-3)})
			}
		}
	})
	// A sync that started after the change has finished once two more have.
	synced := m.Value("kpid_connector_syncs_total", "connector", "gh", "result", "success")
	check(t, "after the change", waitSyncs(t, d, synced+2), expected(2))
	// And one more changes nothing (idempotent upserts, nothing counted
	// twice, nothing lost).
	check(t, "one sync later", waitSyncs(t, d, synced+3), expected(2))
}

func waitSyncs(t *testing.T, d *blackbox.Daemon, n float64) blackbox.Metrics {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := d.Scrape(t)
		if m.Value("kpid_connector_syncs_total", "connector", "gh", "result", "error") > 0 {
			t.Fatalf("a sync failed:\n%s", d.Log())
		}
		if m.Value("kpid_connector_syncs_total", "connector", "gh", "result", "success") >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sync number %v:\n%s", n, d.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func check(t *testing.T, when string, m blackbox.Metrics, exp map[string]want) {
	t.Helper()
	if v := m.Value("kpid_connector_up", "connector", "gh"); v != 1 {
		t.Errorf("kpid_connector_up = %v, want 1", v)
	}
	// DW1's comparison holds 1005 commits: cut at 1000 (SPEC 3.1).
	if v := m.Value("kpid_connector_truncations_total", "connector", "gh"); v != 1 {
		t.Errorf("kpid_connector_truncations_total = %v, want 1", v)
	}

	ids := make([]string, 0, len(exp))
	for id := range exp {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		for _, line := range diff(m.KPI(id), exp[id]) {
			t.Errorf("%s: %s: %s", when, id, line)
		}
	}

	// No series for a person who is not declared, nor for the teams with
	// no GitHub work (support, sales).
	for k := range m {
		if !strings.HasPrefix(k, "kpi_") {
			continue
		}
		for _, bad := range []string{`person="yuri"`, `person="zed"`, `person="carol"`, `team="support"`, `team="sales"`} {
			if strings.Contains(k, bad) {
				t.Errorf("unexpected series %s", k)
			}
		}
	}

	// Default directions (SPEC 4.1: fraction stats higher, prs_open
	// lower) and units (SPEC 5.2).
	for id, du := range map[string][2]string{
		"review_fast": {"higher", "ratio"}, "open_prs": {"lower", "count"}, "deploys": {"higher", "count"},
		"cycle": {"lower", "seconds"}, "merged": {"higher", "count"}, "cfr": {"lower", "ratio"},
	} {
		found := false
		for k := range m {
			if strings.HasPrefix(k, "kpi_info{") && strings.Contains(k, fmt.Sprintf("kpi=%q", id)) {
				found = true
				if !strings.Contains(k, fmt.Sprintf("direction=%q", du[0])) || !strings.Contains(k, fmt.Sprintf("unit=%q", du[1])) {
					t.Errorf("%s: want direction %s, unit %s", k, du[0], du[1])
				}
			}
		}
		if !found {
			t.Errorf("no kpi_info for %s", id)
		}
	}
}

// TestGitHubKPIs runs kpid against a fake that honours sort and direction,
// as GitHub does, at the root of its URL space (github.com style).
func TestGitHubKPIs(t *testing.T) {
	t.Parallel()
	run(t, false, "")
}

// TestGitHubKPIsUnsortedUpstream runs kpid against a fake that ignores the
// sort and direction parameters (natural order: newest number first) under
// a GHES-style /api/v3 root: the KPIs must be the same.
func TestGitHubKPIsUnsortedUpstream(t *testing.T) {
	t.Parallel()
	run(t, true, "/api/v3")
}
