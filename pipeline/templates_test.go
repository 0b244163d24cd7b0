package pipeline

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTemplatesTable checks every template against SPEC §6.3, row by row.
func TestTemplatesTable(t *testing.T) {
	const h = 3600.0
	type row struct {
		role, id, measure, stat, per string
		window                       string
		target                       *float64
		category, kind               string
		person                       bool
	}
	want := []row{
		{"support", "support_tickets_solved", "zendesk_tickets_solved", "sum", "week", "28d", nil, "delivery", "output", true},
		{"support", "support_csat", "zendesk_csat", "mean", "", "28d", ptr(0.90), "quality", "quality", true},
		{"support", "support_first_reply_time", "zendesk_first_reply_time_seconds", "p50", "", "28d", ptr(2 * h), "flow", "leading", true},
		{"support", "support_first_reply_sla", "zendesk_first_reply_time_seconds", "fraction_le", "", "28d", ptr(0.90), "reliability", "leading", false},
		{"support", "support_reopen_rate", "zendesk_ticket_reopened", "mean", "", "28d", ptr(0.10), "quality", "quality", false},
		{"sdr", "sdr_meetings_held", "hubspot_meetings_held", "count", "month", "28d", nil, "delivery", "output", true},
		{"sdr", "sdr_show_rate", "hubspot_meeting_show", "mean", "", "28d", ptr(0.80), "quality", "quality", true},
		{"sdr", "sdr_meetings_booked", "hubspot_meetings_booked", "count", "month", "28d", ptr(15), "flow", "leading", true},
		{"ae", "ae_deals_won", "hubspot_deals_won", "count", "month", "90d", ptr(3), "delivery", "output", true},
		{"ae", "ae_win_rate", "hubspot_deal_won", "mean", "", "90d", nil, "quality", "quality", true},
		{"ae", "ae_sales_cycle", "hubspot_sales_cycle_seconds", "p50", "", "90d", nil, "flow", "leading", true},
		{"ae", "ae_revenue_won", "hubspot_deals_won_amount", "sum", "month", "90d", nil, "impact", "output", false},
		{"ae", "ae_pipeline_created", "hubspot_pipeline_created_amount", "sum", "month", "90d", nil, "impact", "leading", false},
		{"developer", "dev_prs_merged", "github_pr_merged", "count", "week", "28d", nil, "delivery", "output", true},
		{"developer", "dev_review_coverage", "github_pr_reviewed", "mean", "", "28d", ptr(0.90), "quality", "quality", true},
		{"developer", "dev_cycle_time", "github_pr_cycle_time_seconds", "p50", "", "28d", ptr(48 * h), "flow", "leading", true},
		{"developer", "dev_issues_done", "jira_issues_done", "sum", "week", "28d", nil, "delivery", "output", false},
		{"developer", "dev_jira_cycle_time", "jira_cycle_time_seconds", "p50", "", "28d", nil, "flow", "leading", false},
		{"team", "deploy_frequency", "github_deployments", "count", "week", "28d", nil, "delivery", "output", false},
		{"team", "lead_time_for_changes", "github_lead_time_seconds", "p50", "", "28d", ptr(24 * h), "flow", "leading", false},
		{"team", "change_failure_rate", "github_deployment_failed", "mean", "", "90d", ptr(0.15), "reliability", "quality", false},
		{"team", "time_to_restore", "github_incident_restore_time_seconds", "p50", "", "90d", ptr(24 * h), "reliability", "quality", false},
		{"team", "on_time_delivery", "jira_done_on_time", "mean", "", "90d", ptr(0.80), "reliability", "quality", false},
	}
	owners := map[string]string{"support": "Support lead", "sdr": "SDR lead", "ae": "AE lead", "developer": "Engineering manager", "team": "Engineering manager"}

	got := RoleTemplates()
	if len(got) != 23 || len(want) != 23 {
		t.Fatalf("%d templates, want 23", len(got))
	}
	for i, w := range want {
		g := got[i]
		k := g.KPI
		t.Run(w.id, func(t *testing.T) {
			if g.Role != w.role || k.ID != w.id || k.Measure != w.measure || k.Stat != w.stat || k.Per != w.per ||
				k.Category != w.category || k.Kind != w.kind {
				t.Errorf("got %s %s %s %s per=%q %s/%s, want %+v", g.Role, k.ID, k.Measure, k.Stat, k.Per, k.Category, k.Kind, w)
			}
			days := map[string]time.Duration{"28d": 28 * 24 * time.Hour, "90d": 90 * 24 * time.Hour}[w.window]
			if len(k.Windows) != 1 || k.Windows[0] != (Window{Name: w.window, Duration: days}) {
				t.Errorf("windows = %v, want [%s]", k.Windows, w.window)
			}
			switch {
			case (k.Target == nil) != (w.target == nil):
				t.Errorf("target = %v, want %v", k.Target, w.target)
			case k.Target != nil && *k.Target != *w.target:
				t.Errorf("target = %v, want %v", *k.Target, *w.target)
			}
			wantScope := []string{ScopeOrg, ScopeTeam}
			if w.person {
				wantScope = append(wantScope, ScopePerson)
			}
			if !slices.Equal(k.Scope, wantScope) {
				t.Errorf("scope = %v, want %v", k.Scope, wantScope)
			}
			if k.Baseline != 365*24*time.Hour {
				t.Errorf("baseline = %v, want 365d", k.Baseline)
			}
			if k.Owner != owners[w.role] {
				t.Errorf("owner = %q, want %q", k.Owner, owners[w.role])
			}
			wantCadence := "monthly"
			if w.category == "flow" || w.category == "delivery" {
				wantCadence = "weekly"
			}
			if k.Cadence != wantCadence {
				t.Errorf("cadence = %q, want %q", k.Cadence, wantCadence)
			}
			wantRoles := []string{w.role}
			if w.role == "team" {
				wantRoles = nil
			}
			if !slices.Equal(k.Roles, wantRoles) {
				t.Errorf("roles = %v, want %v", k.Roles, wantRoles)
			}
			if k.Direction != DefaultDirection(k.Measure, k.Stat) {
				t.Errorf("direction = %q, want the default %q", k.Direction, DefaultDirection(k.Measure, k.Stat))
			}
			wantThreshold := 0.0
			if k.ID == "support_first_reply_sla" {
				wantThreshold = 7200
				if k.Direction != Higher {
					t.Errorf("direction = %q, want higher for a fraction", k.Direction)
				}
			}
			if k.Threshold != wantThreshold {
				t.Errorf("threshold = %v, want %v", k.Threshold, wantThreshold)
			}
			if k.Title == "" || k.Description == "" {
				t.Errorf("title %q and description %q must be set", k.Title, k.Description)
			}
			if _, ok := LookupMeasure(k.Measure); !ok {
				t.Errorf("unknown measure %s", k.Measure)
			}
		})
	}
}

// TestTemplatesLintShape checks the practice the lint rules enforce: each
// person role has exactly three person-scope KPIs (one output, one quality,
// one leading), every role covers the three kinds with at most 7 KPIs, and
// impact KPIs stay at team scope.
func TestTemplatesLintShape(t *testing.T) {
	personKinds := map[string][]string{}
	kinds := map[string]map[string]bool{}
	total := map[string]int{}
	ids := map[string]bool{}
	for _, tpl := range RoleTemplates() {
		k := tpl.KPI
		if ids[k.ID] {
			t.Errorf("duplicate id %s", k.ID)
		}
		ids[k.ID] = true
		total[tpl.Role]++
		if kinds[tpl.Role] == nil {
			kinds[tpl.Role] = map[string]bool{}
		}
		kinds[tpl.Role][k.Kind] = true
		if slices.Contains(k.Scope, ScopePerson) {
			personKinds[tpl.Role] = append(personKinds[tpl.Role], k.Kind)
			if k.Category == CategoryImpact {
				t.Errorf("%s: impact KPI at person scope", k.ID)
			}
		}
		if k.Per != "" && k.Stat != StatCount && k.Stat != StatSum {
			t.Errorf("%s: per on %s", k.ID, k.Stat)
		}
	}
	for _, role := range []string{RoleSupport, RoleSDR, RoleAE, RoleDeveloper} {
		got := slices.Sorted(slices.Values(personKinds[role]))
		if want := []string{KindLeading, KindOutput, KindQuality}; !slices.Equal(got, want) {
			t.Errorf("%s person-scope kinds = %v, want one of each %v", role, got, want)
		}
	}
	if len(personKinds[RoleTeam]) != 0 {
		t.Errorf("team role has person-scope KPIs: %v", personKinds[RoleTeam])
	}
	for _, role := range TemplateRoles() {
		if total[role] > 7 || !kinds[role][KindOutput] || !kinds[role][KindQuality] || !kinds[role][KindLeading] {
			t.Errorf("%s: %d KPIs, kinds %v", role, total[role], kinds[role])
		}
	}
}

func ids(kpis []KPI) []string {
	out := make([]string, len(kpis))
	for i, k := range kpis {
		out[i] = k.ID
	}
	return out
}

func TestTemplatesByRole(t *testing.T) {
	tests := []struct {
		roles []string
		want  []string
	}{
		{nil, ids(Templates(TemplateRoles()))},
		{[]string{"sdr"}, []string{"sdr_meetings_held", "sdr_show_rate", "sdr_meetings_booked"}},
		{[]string{"ae", "support"}, []string{
			"support_tickets_solved", "support_csat", "support_first_reply_time", "support_first_reply_sla", "support_reopen_rate",
			"ae_deals_won", "ae_win_rate", "ae_sales_cycle", "ae_revenue_won", "ae_pipeline_created",
		}},
		{[]string{"team"}, []string{"deploy_frequency", "lead_time_for_changes", "change_failure_rate", "time_to_restore", "on_time_delivery"}},
		{[]string{"manager"}, nil},
	}
	for _, tt := range tests {
		if got := ids(Templates(tt.roles)); !slices.Equal(got, tt.want) {
			t.Errorf("Templates(%v) = %v, want %v", tt.roles, got, tt.want)
		}
	}
	if n := len(Templates(nil)); n != 23 {
		t.Errorf("Templates(nil) has %d KPIs, want 23", n)
	}
}

func TestTemplatesFor(t *testing.T) {
	tests := []struct {
		types []string
		want  []string
	}{
		{[]string{"github"}, []string{"dev_prs_merged", "dev_review_coverage", "dev_cycle_time",
			"deploy_frequency", "lead_time_for_changes", "change_failure_rate", "time_to_restore"}},
		{[]string{"jira"}, []string{"dev_issues_done", "dev_jira_cycle_time", "on_time_delivery"}},
		{[]string{"zendesk"}, []string{"support_tickets_solved", "support_csat", "support_first_reply_time", "support_first_reply_sla", "support_reopen_rate"}},
		{[]string{"hubspot"}, ids(Templates([]string{"sdr", "ae"}))},
		{[]string{"github", "zendesk", "hubspot", "jira"}, ids(Templates(nil))},
		{nil, nil},
	}
	for _, tt := range tests {
		if got := ids(TemplatesFor(tt.types)); !slices.Equal(got, tt.want) {
			t.Errorf("TemplatesFor(%v) = %v, want %v", tt.types, got, tt.want)
		}
	}
}

func TestTemplatesAreFreshCopies(t *testing.T) {
	a := Templates(nil)
	*a[1].Target = 0.5
	a[0].Scope[0] = "changed"
	b := Templates(nil)
	if *b[1].Target != 0.90 || b[0].Scope[0] != ScopeOrg {
		t.Errorf("templates share state between calls: %v %v", *b[1].Target, b[0].Scope)
	}
}

// TestTemplatesEvaluate runs the templates over the demo-like org: no
// series for a system a person does not work in.
func TestTemplatesEvaluate(t *testing.T) {
	org := testOrg()
	got := Evaluate(Templates(nil), org, nil, testNow)
	for _, s := range got {
		if s.Person == "bob" && !strings.HasPrefix(s.KPI, "support_") {
			t.Errorf("bob (zendesk only) has series %s", seriesKey(s))
		}
		if s.Person == "carol" && !slices.Contains([]string{"sdr_meetings_held", "sdr_show_rate", "sdr_meetings_booked"}, s.KPI) {
			t.Errorf("carol (sdr) has series %s", seriesKey(s))
		}
		if s.KPI == "support_csat" && s.Team == "sales" {
			t.Errorf("sales team has a support_csat series")
		}
	}
	if s := find(t, got, "support_tickets_solved/28d/support/bob"); !s.HasValue || s.Value != 0 {
		t.Errorf("bob's empty tickets solved = %+v, want 0", s)
	}
	if s := find(t, got, "support_csat/28d/support/bob"); s.HasValue {
		t.Errorf("bob's csat without ratings = %+v, want no value", s)
	}
}
