package pipeline

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

const day = 24 * time.Hour

var testNow = time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)

func win(days int) Window {
	return Window{Name: fmt.Sprintf("%dd", days), Duration: time.Duration(days) * day}
}

func ptr(v float64) *float64 { return &v }

// at returns a sample of measure from connector gh (repo acme/api, label
// repo=acme/api) at now − ago.
func at(measure string, ago time.Duration, v float64) Sample {
	return Sample{Measure: measure, Time: testNow.Add(-ago), Value: v, Connector: "gh", TeamKey: "acme/api", Labels: map[string]string{"repo": "acme/api"}}
}

func by(actor string, s Sample) Sample { s.Actor = actor; return s }

func repo(r string, s Sample) Sample {
	s.TeamKey = r
	s.Labels = map[string]string{"repo": r}
	return s
}

// seriesKey names a series "kpi/window/team/person".
func seriesKey(s Series) string {
	return s.KPI + "/" + s.Window + "/" + s.Team + "/" + s.Person
}

func keysOf(ss []Series) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = seriesKey(s)
	}
	return out
}

func find(t *testing.T, ss []Series, key string) Series {
	t.Helper()
	for _, s := range ss {
		if seriesKey(s) == key {
			return s
		}
	}
	t.Fatalf("no series %s in %v", key, keysOf(ss))
	return Series{}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestEvaluateWindowEdges(t *testing.T) {
	const m = "github_pr_merged"
	tests := []struct {
		name string
		ago  time.Duration
		in   bool
	}{
		{"exactly now minus window is out", 28 * day, false},
		{"just inside the window", 28*day - time.Nanosecond, true},
		{"inside", time.Hour, true},
		{"exactly now is in", 0, true},
		{"after now is out", -time.Nanosecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := KPI{ID: "k", Measure: m, Stat: StatCount, Windows: []Window{win(28)}, Scope: []string{ScopeOrg}}
			got := Evaluate([]KPI{k}, Org{}, map[string][]Sample{m: {at(m, tt.ago, 1)}}, testNow)
			want := 0
			if tt.in {
				want = 1
			}
			if len(got) != 1 || got[0].Samples != want || got[0].Value != float64(want) || !got[0].HasValue {
				t.Errorf("series = %+v, want %d sample(s) in the window", got, want)
			}
		})
	}
}

func TestEvaluateValues(t *testing.T) {
	const m = "github_pr_cycle_time_seconds"
	tests := []struct {
		name      string
		stat      string
		per       string
		window    Window
		baseline  time.Duration
		threshold float64
		points    []point

		want, wantBaseline float64
		wantOK, wantBaseOK bool
		wantSamples        int
	}{
		{name: "count per week", stat: StatCount, per: PerWeek, window: win(28),
			points: []point{{1 * day, 1}, {2 * day, 1}, {3 * day, 1}, {4 * day, 1}, {10 * day, 1}, {11 * day, 1}, {20 * day, 1}, {27 * day, 1}},
			want:   2, wantOK: true, wantSamples: 8},
		{name: "count per month", stat: StatCount, per: PerMonth, window: win(28),
			points: repeat(14, 2*day),
			want:   15, wantOK: true, wantSamples: 14}, // 14 / (28/30)
		{name: "sum per week", stat: StatSum, per: PerWeek, window: win(28),
			points: []point{{day, 1}, {2 * day, 2}, {3 * day, 3}, {4 * day, 4}},
			want:   2.5, wantOK: true, wantSamples: 4},
		{name: "count empty window", stat: StatCount, window: win(7),
			points: []point{{8 * day, 1}},
			want:   0, wantOK: true, wantSamples: 0},
		{name: "sum per week empty window", stat: StatSum, per: PerWeek, window: win(7),
			want: 0, wantOK: true, wantSamples: 0},
		{name: "mean empty window", stat: StatMean, window: win(7),
			points: []point{{8 * day, 1}},
			wantOK: false, wantSamples: 0},
		{name: "fraction_le at threshold", stat: StatFractionLE, threshold: 7200, window: win(28),
			points: []point{{day, 7200}, {day, 7201}, {day, 60}, {day, 86400}},
			want:   0.5, wantOK: true, wantSamples: 4},
		{name: "no baseline configured", stat: StatCount, window: win(28),
			points: []point{{day, 1}, {40 * day, 1}},
			want:   1, wantOK: true, wantSamples: 1},

		// Baseline period (now−84d, now−28d]: the sample at exactly 28d is
		// in it, the one at exactly 84d is not.
		{name: "count baseline scaled by window over baseline", stat: StatCount, window: win(28), baseline: 56 * day,
			points: []point{{day, 1}, {2 * day, 1}, {3 * day, 1}, {28 * day, 1}, {30 * day, 1}, {50 * day, 1}, {83 * day, 1}, {84 * day, 1}},
			want:   3, wantOK: true, wantSamples: 3, wantBaseline: 2, wantBaseOK: true}, // 4 × 28/56
		{name: "count per week baseline per week", stat: StatCount, per: PerWeek, window: win(28), baseline: 56 * day,
			points: []point{{day, 1}, {2 * day, 1}, {3 * day, 1}, {28 * day, 1}, {30 * day, 1}, {50 * day, 1}, {83 * day, 1}, {84 * day, 1}},
			want:   0.75, wantOK: true, wantSamples: 3, wantBaseline: 0.5, wantBaseOK: true}, // 3/4 weeks, 4/8 weeks
		{name: "sum per month baseline per month", stat: StatSum, per: PerMonth, window: win(30), baseline: 90 * day,
			points: []point{{day, 10}, {31 * day, 30}, {100 * day, 60}, {121 * day, 1000}},
			want:   10, wantOK: true, wantSamples: 1, wantBaseline: 30, wantBaseOK: true}, // 90 / 3 months
		{name: "sum baseline scaled", stat: StatSum, window: win(28), baseline: 56 * day,
			points: []point{{day, 4}, {30 * day, 6}, {60 * day, 4}},
			want:   4, wantOK: true, wantSamples: 1, wantBaseline: 5, wantBaseOK: true},
		{name: "count empty baseline period is zero", stat: StatCount, window: win(28), baseline: 56 * day,
			points: []point{{day, 1}},
			want:   1, wantOK: true, wantSamples: 1, wantBaseline: 0, wantBaseOK: true},
		{name: "p50 empty baseline period", stat: StatP50, window: win(28), baseline: 365 * day,
			points: []point{{day, 10}, {2 * day, 30}, {3 * day, 20}},
			want:   20, wantOK: true, wantSamples: 3, wantBaseOK: false},
		{name: "p50 baseline", stat: StatP50, window: win(28), baseline: 365 * day,
			points: []point{{day, 10}, {2 * day, 30}, {3 * day, 20}, {29 * day, 20}, {300 * day, 10}, {400 * day, 99}},
			want:   20, wantOK: true, wantSamples: 3, wantBaseline: 15, wantBaseOK: true},
		{name: "mean baseline", stat: StatMean, window: win(28), baseline: 28 * day,
			points: []point{{29 * day, 1}, {30 * day, 0}, {31 * day, 0}, {32 * day, 0}},
			want:   0, wantOK: false, wantSamples: 0, wantBaseline: 0.25, wantBaseOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ss []Sample
			for _, p := range tt.points {
				ss = append(ss, at(m, p.ago, p.v))
			}
			k := KPI{ID: "k", Measure: m, Stat: tt.stat, Per: tt.per, Threshold: tt.threshold,
				Windows: []Window{tt.window}, Baseline: tt.baseline, Scope: []string{ScopeOrg}}
			got := Evaluate([]KPI{k}, Org{}, map[string][]Sample{m: ss}, testNow)
			if len(got) != 1 {
				t.Fatalf("got %d series, want 1", len(got))
			}
			s := got[0]
			if s.HasValue != tt.wantOK || (tt.wantOK && !near(s.Value, tt.want)) || s.Samples != tt.wantSamples {
				t.Errorf("value = %v (has %v) from %d samples, want %v (has %v) from %d", s.Value, s.HasValue, s.Samples, tt.want, tt.wantOK, tt.wantSamples)
			}
			if s.HasBaseline != tt.wantBaseOK || (tt.wantBaseOK && !near(s.Baseline, tt.wantBaseline)) {
				t.Errorf("baseline = %v (has %v), want %v (has %v)", s.Baseline, s.HasBaseline, tt.wantBaseline, tt.wantBaseOK)
			}
		})
	}
}

// point is a sample value at now − ago.
type point struct {
	ago time.Duration
	v   float64
}

func repeat(n int, ago time.Duration) []point {
	out := make([]point, n)
	for i := range out {
		out[i] = point{ago, 1}
	}
	return out
}

func TestEvaluateSnapshot(t *testing.T) {
	const m = "github_prs_open"
	ss := []Sample{
		by("alice-gh", at(m, 400*day, 1)),
		at(m, 30*day, 1),
		repo("acme/web", at(m, 0, 1)),
	}
	k := KPI{ID: "open", Measure: m, Stat: StatP50, Per: PerWeek, Windows: []Window{win(7), win(28)},
		Baseline: 365 * day, Target: ptr(2), Scope: []string{ScopeOrg, ScopeTeam}}
	got := Evaluate([]KPI{k}, testOrg(), map[string][]Sample{m: ss}, testNow)
	want := []string{
		"open/7d//", "open/7d/infra/", "open/7d/platform/", "open/7d/web/",
		"open/28d//", "open/28d/infra/", "open/28d/platform/", "open/28d/web/",
	}
	if !slices.Equal(keysOf(got), want) {
		t.Fatalf("series = %v, want %v", keysOf(got), want)
	}
	for _, w := range []string{"7d", "28d"} {
		org := find(t, got, "open/"+w+"//")
		if org.Value != 3 || !org.HasValue || org.Samples != 3 || org.HasBaseline {
			t.Errorf("%s org = %+v, want count 3 of every sample, no baseline", w, org)
		}
		if !org.HasTarget || org.OnTarget {
			t.Errorf("%s org: 3 open PRs against a target of 2 (lower) should be off target: %+v", w, org)
		}
		if p := find(t, got, "open/"+w+"/platform/"); p.Value != 2 {
			t.Errorf("%s platform = %v, want 2", w, p.Value)
		}
		if p := find(t, got, "open/"+w+"/web/"); p.Value != 1 {
			t.Errorf("%s web = %v, want 1", w, p.Value)
		}
	}
}

func TestEvaluateScopes(t *testing.T) {
	const merged = "github_pr_merged"
	samples := map[string][]Sample{
		merged: {
			by("alice-gh", at(merged, day, 1)),
			by("ALICE-gh", repo("acme/web", at(merged, 2*day, 1))),
			by("eve-gh", at(merged, 3*day, 1)),
			by("outside-contrib", at(merged, 4*day, 1)),
			by("outside-contrib", repo("acme/sandbox", at(merged, 5*day, 1))),
		},
	}
	all := []string{ScopeOrg, ScopeTeam, ScopePerson}
	kpis := []KPI{
		{ID: "csat", Measure: "zendesk_csat", Stat: StatMean, Windows: []Window{win(28)}, Scope: all},
		{ID: "deals", Measure: "hubspot_deals_won", Stat: StatCount, Windows: []Window{win(90)}, Scope: all, Roles: []string{"ae"}},
		{ID: "prs", Measure: merged, Stat: StatCount, Windows: []Window{win(28), win(7)}, Scope: []string{ScopePerson, ScopeTeam, ScopeOrg}, Roles: []string{"developer"}},
		{ID: "prs_any", Measure: merged, Stat: StatCount, Windows: []Window{win(28)}, Scope: []string{ScopePerson}},
		{ID: "prs_default", Measure: merged, Stat: StatCount, Windows: []Window{win(28)}},
	}
	got := Evaluate(kpis, testOrg(), samples, testNow)
	want := []string{
		// Zendesk: only bob; the support team from bob and from the group mapping.
		"csat/28d//", "csat/28d/support/", "csat/28d/support/bob",
		// HubSpot with roles [ae]: mallory, not carol (sdr).
		"deals/90d//", "deals/90d/sales/", "deals/90d/sales/mallory",
		// GitHub developers: alice and nomad (no team); not dan (no github
		// login) nor eve (sre). Teams: platform (alice, repo mapping), web
		// (repo mapping, no sample), infra (only on eve's sample).
		"prs/28d//", "prs/28d/infra/", "prs/28d/platform/", "prs/28d/web/", "prs/28d//nomad", "prs/28d/platform/alice",
		"prs/7d//", "prs/7d/infra/", "prs/7d/platform/", "prs/7d/web/", "prs/7d//nomad", "prs/7d/platform/alice",
		// No roles: every declared person with a github login.
		"prs_any/28d//nomad", "prs_any/28d/infra/eve", "prs_any/28d/platform/alice",
		// No scope: org and team.
		"prs_default/28d//", "prs_default/28d/infra/", "prs_default/28d/platform/", "prs_default/28d/web/",
	}
	if !slices.Equal(keysOf(got), want) {
		t.Fatalf("series:\n got %v\nwant %v", keysOf(got), want)
	}

	values := map[string]float64{
		"prs/28d//":              5,
		"prs/28d/platform/":      3, // alice ×2 (her team wins over acme/web) + outside-contrib on acme/api
		"prs/28d/infra/":         1,
		"prs/28d/web/":           0,
		"prs/28d/platform/alice": 2,
		"prs/28d//nomad":         0,
		"prs/7d//":               5,
		"csat/28d//":             0,
	}
	for key, v := range values {
		s := find(t, got, key)
		if key == "csat/28d//" {
			if s.HasValue || s.Samples != 0 {
				t.Errorf("%s = %+v, want no value (mean of nothing)", key, s)
			}
			continue
		}
		if !s.HasValue || s.Value != v || s.Samples != int(v) {
			t.Errorf("%s = %v (has %v, %d samples), want %v", key, s.Value, s.HasValue, s.Samples, v)
		}
	}
}

func TestEvaluateFilter(t *testing.T) {
	const m = "github_pr_cycle_time_seconds"
	ss := []Sample{
		by("alice-gh", at(m, day, 10)),
		at(m, day, 30),
		repo("acme/web", at(m, day, 1000)),
		{Measure: m, Time: testNow.Add(-day), Value: 5000, Connector: "gh", TeamKey: "acme/api"}, // no labels
	}
	k := KPI{ID: "k", Measure: m, Stat: StatP50, Windows: []Window{win(28)}, Scope: []string{ScopeOrg, ScopeTeam, ScopePerson},
		Roles: []string{"developer"}, Filter: map[string]string{"repo": "acme/api"}}
	got := Evaluate([]KPI{k}, testOrg(), map[string][]Sample{m: ss}, testNow)
	tests := []struct {
		key     string
		want    float64
		ok      bool
		samples int
	}{
		{"k/28d//", 20, true, 2},
		{"k/28d/platform/", 20, true, 2},
		{"k/28d/web/", 0, false, 0},
		{"k/28d/platform/alice", 10, true, 1},
	}
	for _, tt := range tests {
		s := find(t, got, tt.key)
		if s.Value != tt.want || s.HasValue != tt.ok || s.Samples != tt.samples {
			t.Errorf("%s = %v (has %v, %d samples), want %v (has %v, %d)", tt.key, s.Value, s.HasValue, s.Samples, tt.want, tt.ok, tt.samples)
		}
	}
}

func TestEvaluateTargets(t *testing.T) {
	org := Org{
		People: []Person{
			{ID: "alice", Team: "platform", Identities: map[string]string{"github": "alice"}},
			{ID: "frank", Team: "platform", Identities: map[string]string{"github": "frank"}},
			{ID: "gina", Team: "web", Identities: map[string]string{"github": "gina"}},
		},
	}
	all := []string{ScopeOrg, ScopeTeam, ScopePerson}
	kpis := []KPI{
		{ID: "a", Measure: "github_pr_merged", Stat: StatCount, Windows: []Window{win(28)}, Scope: all,
			Target: ptr(10), Targets: map[string]float64{"team:platform": 5, "person:alice": 3}},
		{ID: "b", Measure: "github_pr_merged", Stat: StatCount, Windows: []Window{win(28)}, Scope: all,
			Targets: map[string]float64{"team:platform": 5}},
	}
	got := Evaluate(kpis, org, nil, testNow)
	tests := []struct {
		key    string
		target float64
		has    bool
	}{
		{"a/28d//", 10, true},
		{"a/28d/platform/", 5, true},
		{"a/28d/web/", 10, true},
		{"a/28d/platform/alice", 3, true}, // person override
		{"a/28d/platform/frank", 5, true}, // the person's team override
		{"a/28d/web/gina", 10, true},      // the KPI's target
		{"b/28d//", 0, false},
		{"b/28d/platform/", 5, true},
		{"b/28d/web/", 0, false},
		{"b/28d/platform/alice", 5, true},
		{"b/28d/web/gina", 0, false},
	}
	for _, tt := range tests {
		s := find(t, got, tt.key)
		if s.Target != tt.target || s.HasTarget != tt.has {
			t.Errorf("%s target = %v (has %v), want %v (has %v)", tt.key, s.Target, s.HasTarget, tt.target, tt.has)
		}
	}
}

func TestEvaluateOnTarget(t *testing.T) {
	tests := []struct {
		name      string
		measure   string
		stat      string
		direction string
		values    []float64
		target    float64
		want      bool
		wantValue bool
	}{
		{"lower at target", "github_pr_cycle_time_seconds", StatMax, Lower, []float64{1, 2}, 2, true, true},
		{"lower above target", "github_pr_cycle_time_seconds", StatMax, Lower, []float64{1, 2}, 1.5, false, true},
		{"higher at target", "github_pr_cycle_time_seconds", StatMax, Higher, []float64{1, 2}, 2, true, true},
		{"higher below target", "github_pr_cycle_time_seconds", StatMax, Higher, []float64{1, 2}, 2.5, false, true},
		{"default from measure higher", "github_pr_merged", StatCount, "", []float64{1, 1}, 3, false, true},
		{"default from measure higher met", "github_pr_merged", StatCount, "", []float64{1, 1}, 2, true, true},
		{"default from measure lower", "github_pr_cycle_time_seconds", StatMean, "", []float64{10, 20}, 14, false, true},
		{"fraction defaults to higher", "github_pr_cycle_time_seconds", StatFractionLE, "", []float64{10, 20}, 0.5, true, true},
		{"no value never on target", "github_pr_cycle_time_seconds", StatMean, Lower, nil, 100, false, false},
		{"empty count meets lower target", "github_bugs_opened", StatCount, "", nil, 0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ss []Sample
			for _, v := range tt.values {
				ss = append(ss, at(tt.measure, day, v))
			}
			k := KPI{ID: "k", Measure: tt.measure, Stat: tt.stat, Threshold: 15, Direction: tt.direction,
				Windows: []Window{win(28)}, Target: ptr(tt.target), Scope: []string{ScopeOrg}}
			s := Evaluate([]KPI{k}, Org{}, map[string][]Sample{tt.measure: ss}, testNow)[0]
			if s.OnTarget != tt.want || s.HasValue != tt.wantValue || !s.HasTarget {
				t.Errorf("value %v (has %v) target %v: on target %v, want %v", s.Value, s.HasValue, s.Target, s.OnTarget, tt.want)
			}
		})
	}
}

func TestEvaluateRemovedPersonDisappears(t *testing.T) {
	const m = "github_pr_merged"
	samples := map[string][]Sample{m: {
		by("alice-gh", repo("acme/web", at(m, day, 1))),
		by("alice-gh", repo("acme/web", at(m, 2*day, 1))),
	}}
	k := KPI{ID: "k", Measure: m, Stat: StatCount, Windows: []Window{win(28)}, Scope: []string{ScopeOrg, ScopeTeam, ScopePerson}}

	org := testOrg()
	before := Evaluate([]KPI{k}, org, samples, testNow)
	if s := find(t, before, "k/28d/platform/alice"); s.Value != 2 {
		t.Fatalf("alice before removal = %v, want 2", s.Value)
	}

	org.People = slices.DeleteFunc(org.People, func(p Person) bool { return p.ID == "alice" })
	after := Evaluate([]KPI{k}, org, samples, testNow)
	for _, s := range after {
		if s.Person == "alice" {
			t.Errorf("series %s still names a removed person", seriesKey(s))
		}
	}
	// Her samples now count for the repo's team, and still for the org.
	if s := find(t, after, "k/28d/web/"); s.Value != 2 {
		t.Errorf("web after removal = %v, want 2", s.Value)
	}
	if s := find(t, after, "k/28d//"); s.Value != 2 {
		t.Errorf("org after removal = %v, want 2", s.Value)
	}
}

func TestEvaluateOrdersByKPIID(t *testing.T) {
	const m = "github_pr_merged"
	kpis := []KPI{
		{ID: "zz", Measure: m, Stat: StatCount, Windows: []Window{win(7)}, Scope: []string{ScopeOrg}},
		{ID: "aa", Measure: "zendesk_csat", Stat: StatCount, Windows: []Window{win(90), win(7)}, Scope: []string{ScopeOrg}},
		{ID: "mm", Measure: m, Stat: StatCount, Windows: []Window{win(7)}, Scope: []string{ScopeOrg}},
	}
	got := keysOf(Evaluate(kpis, Org{}, nil, testNow))
	want := []string{"aa/90d//", "aa/7d//", "mm/7d//", "zz/7d//"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

// naiveEvaluate is the definition of Evaluate written as directly as
// possible (every series scans every sample), to check the indexed one.
func naiveEvaluate(kpis []KPI, org Org, samples map[string][]Sample, now time.Time) []Series {
	att := NewAttributor(org)
	people := slices.Clone(org.People)
	slices.SortStableFunc(people, func(a, b Person) int { return cmp.Or(cmp.Compare(a.Team, b.Team), cmp.Compare(a.ID, b.ID)) })
	sorted := slices.Clone(kpis)
	slices.SortStableFunc(sorted, func(a, b KPI) int { return cmp.Compare(a.ID, b.ID) })

	var out []Series
	for _, k := range sorted {
		ms, _ := LookupMeasure(k.Measure)
		ss := samples[k.Measure]
		persons := make([]string, len(ss))
		teams := make([]string, len(ss))
		teamSet := map[string]bool{}
		for i, s := range ss {
			persons[i], teams[i] = att.Attribute(s, ms.Source)
			teamSet[teams[i]] = true
		}
		var eligible []Person
		for _, p := range people {
			if p.Identities[ms.Source] != "" && (len(k.Roles) == 0 || slices.ContainsFunc(p.Roles, func(r string) bool { return slices.Contains(k.Roles, r) })) {
				eligible = append(eligible, p)
				teamSet[p.Team] = true
			}
		}
		for conn, typ := range org.ConnectorTypes {
			if typ == ms.Source {
				for _, team := range org.ConnectorTeams[conn] {
					teamSet[team] = true
				}
			}
		}
		delete(teamSet, "")
		teamList := slices.Sorted(func(yield func(string) bool) {
			for t := range teamSet {
				if !yield(t) {
					return
				}
			}
		})
		dir := k.Direction
		if dir == "" {
			dir = DefaultDirection(k.Measure, k.Stat)
		}
		match := func(s Sample) bool {
			for key, v := range k.Filter {
				if got, ok := s.Labels[key]; !ok || got != v {
					return false
				}
			}
			return true
		}
		perLen := map[string]time.Duration{PerWeek: Week, PerMonth: Month}[k.Per]
		countOrSum := k.Stat == StatCount || k.Stat == StatSum
		compute := func(w time.Duration, sel func(i int) bool, team, person string) Series {
			s := Series{Team: team, Person: person}
			var win, base []float64
			for i, smp := range ss {
				if !sel(i) || !match(smp) {
					continue
				}
				switch {
				case ms.Snapshot:
					win = append(win, smp.Value)
				case smp.Time.After(now.Add(-w)) && !smp.Time.After(now):
					win = append(win, smp.Value)
				case smp.Time.After(now.Add(-w-k.Baseline)) && !smp.Time.After(now.Add(-w)):
					base = append(base, smp.Value)
				}
			}
			s.Samples = len(win)
			if ms.Snapshot {
				s.Value, s.HasValue = float64(len(win)), true
			} else {
				s.Value, s.HasValue = Stat(k.Stat, win, k.Threshold)
				if countOrSum && perLen > 0 {
					s.Value /= float64(w) / float64(perLen)
				}
				if k.Baseline > 0 {
					s.Baseline, s.HasBaseline = Stat(k.Stat, base, k.Threshold)
					if countOrSum && perLen > 0 {
						s.Baseline /= float64(k.Baseline) / float64(perLen)
					} else if countOrSum {
						s.Baseline *= float64(w) / float64(k.Baseline)
					}
				}
			}
			s.Target, s.HasTarget = targetFor(&k, team, person)
			return finish(s, dir)
		}
		for _, w := range k.Windows {
			var ws []Series
			if slices.Contains(k.Scope, ScopeOrg) {
				ws = append(ws, compute(w.Duration, func(int) bool { return true }, "", ""))
			}
			if slices.Contains(k.Scope, ScopeTeam) {
				for _, team := range teamList {
					ws = append(ws, compute(w.Duration, func(i int) bool { return teams[i] == team }, team, ""))
				}
			}
			if slices.Contains(k.Scope, ScopePerson) {
				for _, p := range eligible {
					ws = append(ws, compute(w.Duration, func(i int) bool { return persons[i] == p.ID }, p.Team, p.ID))
				}
			}
			for i := range ws {
				ws[i].KPI, ws[i].Window = k.ID, w.Name
			}
			out = append(out, ws...)
		}
	}
	return out
}

// TestEvaluateMatchesNaive compares the indexed evaluator, reused across
// runs, with the naive definition on random companies and samples.
func TestEvaluateMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	var e Evaluator
	measures := []string{"github_pr_merged", "github_pr_cycle_time_seconds", "zendesk_csat", "github_prs_open", "hubspot_deals_won_amount"}
	stats := []string{StatCount, StatSum, StatMean, StatMin, StatMax, StatP50, StatP75, StatP90, StatP95, StatFractionLE, StatFractionGE}
	roles := []string{"developer", "support", "ae"}
	for iter := range 60 {
		org := Org{
			ConnectorTypes: map[string]string{"gh": "github", "zd": "zendesk", "hs": "hubspot"},
			ConnectorTeams: map[string]map[string]string{
				"gh": {"r0": "t0", "r1": "t1", "r2": ""},
				"zd": {"g0": "t2"},
			},
		}
		for p := range rng.IntN(8) {
			person := Person{ID: fmt.Sprintf("p%d", p), Team: fmt.Sprintf("t%d", rng.IntN(5)), Roles: []string{roles[rng.IntN(3)]}, Identities: map[string]string{}}
			if rng.IntN(5) == 0 {
				person.Team = ""
			}
			for _, src := range []string{"github", "zendesk", "hubspot"} {
				if rng.IntN(2) == 0 {
					person.Identities[src] = fmt.Sprintf("u%d", p)
				}
			}
			org.People = append(org.People, person)
		}
		samples := map[string][]Sample{}
		for _, m := range measures {
			n := rng.IntN(300)
			for range n {
				s := Sample{
					Measure:   m,
					Time:      testNow.Add(-time.Duration(rng.IntN(200*24)) * time.Hour),
					Value:     float64(rng.IntN(20)),
					Connector: []string{"gh", "zd", "hs", ""}[rng.IntN(4)],
					TeamKey:   []string{"r0", "r1", "r2", "g0", "x"}[rng.IntN(5)],
					Labels:    map[string]string{"repo": []string{"a", "b"}[rng.IntN(2)]},
				}
				if rng.IntN(4) != 0 {
					s.Actor = fmt.Sprintf("u%d", rng.IntN(10))
				}
				samples[m] = append(samples[m], s)
			}
			if iter%2 == 0 {
				slices.SortStableFunc(samples[m], func(a, b Sample) int { return a.Time.Compare(b.Time) })
			}
		}
		var kpis []KPI
		for i := range 1 + rng.IntN(6) {
			k := KPI{
				ID:        fmt.Sprintf("k%d", rng.IntN(100)*10+i),
				Measure:   measures[rng.IntN(len(measures))],
				Stat:      stats[rng.IntN(len(stats))],
				Threshold: 10,
				Windows:   []Window{win(7), win(28), win(90)}[:1+rng.IntN(3)],
				Scope:     []string{ScopeOrg, ScopeTeam, ScopePerson},
				Target:    ptr(5),
			}
			if rng.IntN(2) == 0 {
				k.Roles = []string{roles[rng.IntN(3)]}
			}
			if rng.IntN(3) == 0 {
				k.Filter = map[string]string{"repo": "a"}
			}
			if rng.IntN(2) == 0 {
				k.Baseline = time.Duration(30+rng.IntN(100)) * day
			}
			if k.Stat == StatCount || k.Stat == StatSum {
				k.Per = []string{"", PerWeek, PerMonth}[rng.IntN(3)]
			}
			kpis = append(kpis, k)
		}
		got := e.Evaluate(kpis, org, samples, testNow)
		want := naiveEvaluate(kpis, org, samples, testNow)
		if len(got) != len(want) {
			t.Fatalf("iteration %d: %d series, want %d:\n got %v\nwant %v", iter, len(got), len(want), keysOf(got), keysOf(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			same := seriesKey(g) == seriesKey(w) && g.HasValue == w.HasValue && g.Samples == w.Samples &&
				near(g.Value, w.Value) && g.HasBaseline == w.HasBaseline && near(g.Baseline, w.Baseline) &&
				g.Target == w.Target && g.HasTarget == w.HasTarget && g.OnTarget == w.OnTarget
			if !same {
				t.Fatalf("iteration %d series %d:\n got %+v\nwant %+v", iter, i, g, w)
			}
		}
	}
}

func TestEvaluateDoesNotModifyInput(t *testing.T) {
	const m = "github_pr_cycle_time_seconds"
	ss := []Sample{at(m, 3*day, 3), at(m, day, 1), at(m, 2*day, 2)}
	orig := slices.Clone(ss)
	k := KPI{ID: "k", Measure: m, Stat: StatP50, Windows: []Window{win(28)}, Scope: []string{ScopeOrg}}
	got := Evaluate([]KPI{k}, Org{}, map[string][]Sample{m: ss}, testNow)
	if got[0].Value != 2 {
		t.Errorf("p50 = %v, want 2", got[0].Value)
	}
	for i := range ss {
		if !ss[i].Time.Equal(orig[i].Time) || ss[i].Value != orig[i].Value {
			t.Fatalf("input reordered: %v", ss)
		}
	}
}

func TestUnitAndDefaultDirection(t *testing.T) {
	tests := []struct {
		measure, stat string
		unit, dir     string
	}{
		{"github_pr_cycle_time_seconds", StatP50, UnitSeconds, Lower},
		{"github_pr_cycle_time_seconds", StatCount, UnitCount, Lower},
		{"zendesk_first_reply_time_seconds", StatFractionLE, UnitRatio, Higher},
		{"zendesk_first_reply_time_seconds", StatFractionGE, UnitRatio, Higher},
		{"hubspot_deals_won_amount", StatSum, UnitCurrency, Higher},
		{"hubspot_sales_cycle_seconds", StatP50, UnitSeconds, Lower},
		{"jira_issues_done", StatSum, UnitPoints, Higher},
		{"zendesk_backlog", StatP50, UnitCount, Lower},
		{"zendesk_csat", StatMean, UnitRatio, Higher},
		// The sum of 0/1 samples counts the 1s: a count, not a share (as
		// config reads its target).
		{"github_pr_reviewed", StatSum, UnitCount, Higher},
		{"zendesk_ticket_reopened", StatSum, UnitCount, Lower},
		{"github_pr_reviewed", StatP50, UnitRatio, Higher},
	}
	for _, tt := range tests {
		name := tt.measure + "/" + tt.stat
		if got := (KPI{Measure: tt.measure, Stat: tt.stat}).Unit(); got != tt.unit {
			t.Errorf("KPI{%s}.Unit() = %s, want %s", name, got, tt.unit)
		}
		if got := DefaultDirection(tt.measure, tt.stat); got != tt.dir {
			t.Errorf("DefaultDirection(%s) = %s, want %s", name, got, tt.dir)
		}
	}
	if got := DefaultDirection("nope", StatMean); got != Lower {
		t.Errorf("DefaultDirection of an unknown measure = %s, want lower", got)
	}
}

func TestRadixSortStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, n := range []int{2, 3, 100, 5000} {
		times := make([]int64, n)
		for i := range times {
			switch rng.IntN(3) {
			case 0:
				times[i] = -rng.Int64N(1 << 40) // before 1970
			case 1:
				times[i] = rng.Int64N(1 << 62)
			default:
				times[i] = int64(rng.IntN(4)) // many ties
			}
		}
		keys := make([]uint64, n)
		idx := make([]int32, n)
		for i, v := range times {
			keys[i], idx[i] = timeKey(v), int32(i)
		}
		want := slices.Clone(idx)
		slices.SortStableFunc(want, func(a, b int32) int { return cmp.Compare(times[a], times[b]) })
		gotKeys, got := radixSort(keys, idx, make([]uint64, n), make([]int32, n))
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: order %v, want %v", n, got[:min(n, 20)], want[:min(n, 20)])
		}
		for i, k := range gotKeys {
			if int64(k^signBit) != times[got[i]] {
				t.Fatalf("n=%d: key %d does not match its index", n, i)
			}
		}
	}
}
