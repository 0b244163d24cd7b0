package pipeline

import (
	"slices"
	"time"
)

// Roles of the built-in templates (SPEC §6.3). RoleTeam holds the team-level
// delivery KPIs; its KPIs list no roles.
const (
	RoleSupport   = "support"
	RoleSDR       = "sdr"
	RoleAE        = "ae"
	RoleDeveloper = "developer"
	RoleTeam      = "team"
)

// Categories of SPEC §2.
const (
	CategoryDelivery    = "delivery"
	CategoryQuality     = "quality"
	CategoryImpact      = "impact"
	CategoryFlow        = "flow"
	CategoryReliability = "reliability"
)

// Kinds of SPEC §2: each role has one output, one quality and one leading
// KPI at person scope.
const (
	KindOutput  = "output"
	KindQuality = "quality"
	KindLeading = "leading"
)

// Cadences of SPEC §2.
const (
	CadenceWeekly    = "weekly"
	CadenceMonthly   = "monthly"
	CadenceQuarterly = "quarterly"
)

// TemplateBaseline is the baseline of every template KPI.
const TemplateBaseline = 365 * 24 * time.Hour

// Template is one built-in KPI with the role it belongs to.
type Template struct {
	Role string
	KPI  KPI
}

// TemplateRoles returns the template roles in their canonical order.
func TemplateRoles() []string {
	return []string{RoleSupport, RoleSDR, RoleAE, RoleDeveloper, RoleTeam}
}

// RoleOwner returns the owner of a template role's KPIs: the role's lead
// (SPEC §6.3: "Support lead"; "Engineering manager" for the team role, and
// for developers, as SPEC §2's example KPI on their PR cycle time has it).
func RoleOwner(role string) string {
	switch role {
	case RoleSupport:
		return "Support lead"
	case RoleSDR:
		return "SDR lead"
	case RoleAE:
		return "AE lead"
	case RoleDeveloper, RoleTeam:
		return "Engineering manager"
	}
	return ""
}

// RoleTemplates returns every built-in template (SPEC §6.3) in the table's
// order. Each call returns fresh values the caller may modify.
func RoleTemplates() []Template {
	w28 := Window{Name: "28d", Duration: 28 * 24 * time.Hour}
	w90 := Window{Name: "90d", Duration: 90 * 24 * time.Hour}
	const hour = 3600.0

	type row struct {
		role, id, title, measure, stat, per string
		window                              Window
		threshold                           float64
		target                              *float64
		category, kind                      string
		personScope                         bool
		description                         string
	}
	t := func(v float64) *float64 { return &v }
	rows := []row{
		{RoleSupport, "support_tickets_solved", "Tickets solved per week", "zendesk_tickets_solved", StatSum, PerWeek, w28, 0, nil, CategoryDelivery, KindOutput, true,
			"Tickets solved per week, each weighted by its priority."},
		{RoleSupport, "support_csat", "Customer satisfaction", "zendesk_csat", StatMean, "", w28, 0, t(0.90), CategoryQuality, KindQuality, true,
			"Share of rated tickets that customers rated good."},
		{RoleSupport, "support_first_reply_time", "First reply time (median)", "zendesk_first_reply_time_seconds", StatP50, "", w28, 0, t(2 * hour), CategoryFlow, KindLeading, true,
			"Time from a ticket's creation to its first public agent reply; half of tickets get a faster one."},
		{RoleSupport, "support_first_reply_sla", "First replies within 2h", "zendesk_first_reply_time_seconds", StatFractionLE, "", w28, 2 * hour, t(0.90), CategoryReliability, KindLeading, false,
			"Share of tickets whose first public agent reply came within 2 hours of their creation."},
		{RoleSupport, "support_reopen_rate", "Reopen rate", "zendesk_ticket_reopened", StatMean, "", w28, 0, t(0.10), CategoryQuality, KindQuality, false,
			"Share of solved tickets that were reopened."},

		{RoleSDR, "sdr_meetings_held", "Meetings held per month", "hubspot_meetings_held", StatCount, PerMonth, w28, 0, nil, CategoryDelivery, KindOutput, true,
			"Meetings that took place (outcome completed) per month, counted at their start."},
		{RoleSDR, "sdr_show_rate", "Meeting show rate", "hubspot_meeting_show", StatMean, "", w28, 0, t(0.80), CategoryQuality, KindQuality, true,
			"Share of meetings completed or missed that were completed rather than no-shows."},
		{RoleSDR, "sdr_meetings_booked", "Meetings booked per month", "hubspot_meetings_booked", StatCount, PerMonth, w28, 0, t(15), CategoryFlow, KindLeading, true,
			"Meetings booked per month whose outcome is not excluded (canceled, no-show), counted when booked."},

		{RoleAE, "ae_deals_won", "Deals won per month", "hubspot_deals_won", StatCount, PerMonth, w90, 0, t(3), CategoryDelivery, KindOutput, true,
			"Deals closed won per month, counted at their close date."},
		{RoleAE, "ae_win_rate", "Win rate", "hubspot_deal_won", StatMean, "", w90, 0, nil, CategoryQuality, KindQuality, true,
			"Share of closed deals that were won."},
		{RoleAE, "ae_sales_cycle", "Sales cycle (median)", "hubspot_sales_cycle_seconds", StatP50, "", w90, 0, nil, CategoryFlow, KindLeading, true,
			"Time from a won deal's creation to its close; half of won deals close faster."},
		{RoleAE, "ae_revenue_won", "Revenue won per month", "hubspot_deals_won_amount", StatSum, PerMonth, w90, 0, nil, CategoryImpact, KindOutput, false,
			"Amount of the deals closed won per month, counted at their close date."},
		{RoleAE, "ae_pipeline_created", "Pipeline created per month", "hubspot_pipeline_created_amount", StatSum, PerMonth, w90, 0, nil, CategoryImpact, KindLeading, false,
			"Amount of the deals created per month, counted at their creation."},

		{RoleDeveloper, "dev_prs_merged", "PRs merged per week", "github_pr_merged", StatCount, PerWeek, w28, 0, nil, CategoryDelivery, KindOutput, true,
			"Pull requests merged per week, counted at their merge."},
		{RoleDeveloper, "dev_review_coverage", "Review coverage", "github_pr_reviewed", StatMean, "", w28, 0, t(0.90), CategoryQuality, KindQuality, true,
			"Share of merged pull requests approved by someone other than their author before merging."},
		{RoleDeveloper, "dev_cycle_time", "PR cycle time (median)", "github_pr_cycle_time_seconds", StatP50, "", w28, 0, t(48 * hour), CategoryFlow, KindLeading, true,
			"Time from opening a pull request to merging it; half of merged PRs are faster."},
		{RoleDeveloper, "dev_issues_done", "Issues done per week", "jira_issues_done", StatSum, PerWeek, w28, 0, nil, CategoryDelivery, KindOutput, false,
			"Jira issues done per week, weighted by their points (1 each without a points field)."},
		{RoleDeveloper, "dev_jira_cycle_time", "Issue cycle time (median)", "jira_cycle_time_seconds", StatP50, "", w28, 0, nil, CategoryFlow, KindLeading, false,
			"Time from an issue's first entry into an in-progress status to done; half of issues are faster."},

		{RoleTeam, "deploy_frequency", "Deployment frequency", "github_deployments", StatCount, PerWeek, w28, 0, nil, CategoryDelivery, KindOutput, false,
			"Successful deployments to production per week."},
		{RoleTeam, "lead_time_for_changes", "Lead time for changes (median)", "github_lead_time_seconds", StatP50, "", w28, 0, t(24 * hour), CategoryFlow, KindLeading, false,
			"Time from a commit's authoring to the successful production deployment that shipped it; half of commits ship faster."},
		{RoleTeam, "change_failure_rate", "Change failure rate", "github_deployment_failed", StatMean, "", w90, 0, t(0.15), CategoryReliability, KindQuality, false,
			"Share of production deployments that failed."},
		{RoleTeam, "time_to_restore", "Time to restore (median)", "github_incident_restore_time_seconds", StatP50, "", w90, 0, t(24 * hour), CategoryReliability, KindQuality, false,
			"Time from opening an incident issue to closing it; half of incidents are closed faster."},
		{RoleTeam, "on_time_delivery", "On-time delivery", "jira_done_on_time", StatMean, "", w90, 0, t(0.80), CategoryReliability, KindQuality, false,
			"Share of done issues with a due date that were done by the end of that day."},
	}

	out := make([]Template, len(rows))
	for i, r := range rows {
		scope := []string{ScopeOrg, ScopeTeam}
		if r.personScope {
			scope = append(scope, ScopePerson)
		}
		var roles []string
		if r.role != RoleTeam {
			roles = []string{r.role}
		}
		cadence := CadenceMonthly
		if r.category == CategoryFlow || r.category == CategoryDelivery {
			cadence = CadenceWeekly
		}
		out[i] = Template{Role: r.role, KPI: KPI{
			ID:          r.id,
			Title:       r.title,
			Measure:     r.measure,
			Stat:        r.stat,
			Windows:     []Window{r.window},
			Threshold:   r.threshold,
			Per:         r.per,
			Target:      r.target,
			Baseline:    TemplateBaseline,
			Direction:   DefaultDirection(r.measure, r.stat),
			Category:    r.category,
			Kind:        r.kind,
			Owner:       RoleOwner(r.role),
			Cadence:     cadence,
			Description: r.description,
			Scope:       scope,
			Roles:       roles,
		}}
	}
	return out
}

// Templates returns the template KPIs of roles, in the table's order; no
// roles (nil or empty) means every role. Unknown roles select nothing.
func Templates(roles []string) []KPI {
	var out []KPI
	for _, t := range RoleTemplates() {
		if len(roles) == 0 || slices.Contains(roles, t.Role) {
			out = append(out, t.KPI)
		}
	}
	return out
}

// TemplatesFor returns the template KPIs whose measure comes from one of
// connectorTypes (the types of the configured connectors): the KPIs used
// when the config has no `kpis`.
func TemplatesFor(connectorTypes []string) []KPI {
	var out []KPI
	for _, t := range RoleTemplates() {
		if m, ok := LookupMeasure(t.KPI.Measure); ok && slices.Contains(connectorTypes, m.Source) {
			out = append(out, t.KPI)
		}
	}
	return out
}
