package github

import (
	"encoding/json"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/pipeline"
)

var t0 = time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time   { return t0.Add(d) }
func atp(d time.Duration) *time.Time { t := at(d); return &t }

// normConnector is a connector with options only, enough for Normalize.
func normConnector() *Connector {
	cfg := DefaultConfig()
	cfg.Bots = []string{"dependabot[bot]", "Renovate-Bot"}
	cfg.IncidentLabels = []string{"incident", "sev1"}
	cfg.BugLabels = []string{"bug"}
	return &Connector{
		cfg: cfg, bots: lowerSet(cfg.Bots),
		incidentLabels: lowerSet(cfg.IncidentLabels), bugLabels: lowerSet(cfg.BugLabels),
	}
}

func record(t *testing.T, kind string, v any) connectors.Record {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return connectors.Record{Kind: kind, ID: "acme/api#1", Updated: t0, Data: data}
}

// values maps measure -> value of the samples (at most one per measure
// except lead time, which is listed in order).
func values(samples []pipeline.Sample) map[string][]float64 {
	out := map[string][]float64{}
	for _, s := range samples {
		out[s.Measure] = append(out[s.Measure], s.Value)
	}
	for _, v := range out {
		sort.Float64s(v)
	}
	return out
}

func equalValues(a, b map[string][]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb := b[k]
		if len(va) != len(vb) {
			return false
		}
		for i := range va {
			if math.Abs(va[i]-vb[i]) > 1e-9 {
				return false
			}
		}
	}
	return true
}

func rv(user, state string, d time.Duration) reviewInfo {
	return reviewInfo{User: user, State: state, SubmittedAt: atp(d)}
}

func TestNormalizePull(t *testing.T) {
	h := time.Hour
	merged := atp(10 * h)
	pr := func(reviews ...reviewInfo) pullRecord {
		return pullRecord{Repo: "acme/api", Number: 1, Author: "alice-gh", State: "closed",
			CreatedAt: t0, UpdatedAt: at(11 * h), ClosedAt: merged, MergedAt: merged, Reviews: reviews}
	}
	base := func(extra map[string][]float64) map[string][]float64 {
		m := map[string][]float64{
			"github_pr_merged":             {1},
			"github_pr_cycle_time_seconds": {(10 * h).Seconds()},
			"github_pr_reviewed":           {0},
			"github_pr_rework":             {0},
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name string
		pr   pullRecord
		want map[string][]float64
	}{
		{"merged without review", pr(), base(nil)},
		{"approved by a reviewer", pr(rv("dave-gh", "APPROVED", 2*h)), base(map[string][]float64{
			"github_pr_pickup_time_seconds": {(2 * h).Seconds()},
			"github_pr_review_time_seconds": {(8 * h).Seconds()},
			"github_pr_reviewed":            {1},
		})},
		{"first review is a comment, approval later", pr(rv("dave-gh", "COMMENTED", h), rv("erin-gh", "APPROVED", 5*h)), base(map[string][]float64{
			"github_pr_pickup_time_seconds": {h.Seconds()},
			"github_pr_review_time_seconds": {(9 * h).Seconds()},
			"github_pr_reviewed":            {1},
		})},
		{"reviews out of order are sorted by submitted_at", pr(rv("erin-gh", "APPROVED", 5*h), rv("dave-gh", "COMMENTED", 3*h)), base(map[string][]float64{
			"github_pr_pickup_time_seconds": {(3 * h).Seconds()},
			"github_pr_review_time_seconds": {(7 * h).Seconds()},
			"github_pr_reviewed":            {1},
		})},
		{"author's own comments do not count", pr(rv("alice-gh", "COMMENTED", h), rv("ALICE-GH", "APPROVED", 2*h)), base(nil)},
		{"bot reviews ignored everywhere", pr(rv("dependabot[bot]", "APPROVED", h), rv("renovate-bot", "CHANGES_REQUESTED", h),
			reviewInfo{User: "sonarcloud[bot]", UserType: "Bot", State: "COMMENTED", SubmittedAt: atp(h)}), base(nil)},
		{"pending reviews ignored", pr(reviewInfo{User: "dave-gh", State: "PENDING"}, rv("dave-gh", "PENDING", h)), base(nil)},
		{"dismissed review counts for pickup, not as approval", pr(rv("dave-gh", "DISMISSED", h)), base(map[string][]float64{
			"github_pr_pickup_time_seconds": {h.Seconds()},
			"github_pr_review_time_seconds": {(9 * h).Seconds()},
		})},
		{"changes requested is rework", pr(rv("dave-gh", "CHANGES_REQUESTED", h), rv("dave-gh", "APPROVED", 8*h)), base(map[string][]float64{
			"github_pr_pickup_time_seconds": {h.Seconds()},
			"github_pr_review_time_seconds": {(9 * h).Seconds()},
			"github_pr_reviewed":            {1},
			"github_pr_rework":              {1},
		})},
		{"approval after merge is not reviewed; a review after merge still is the first review", pr(rv("dave-gh", "APPROVED", 12*h)), base(map[string][]float64{
			"github_pr_pickup_time_seconds": {(12 * h).Seconds()},
			"github_pr_review_time_seconds": {(-2 * h).Seconds()},
		})},
		{"approval exactly at merge is not before it", pr(rv("dave-gh", "APPROVED", 10*h)), base(map[string][]float64{
			"github_pr_pickup_time_seconds": {(10 * h).Seconds()},
			"github_pr_review_time_seconds": {0},
		})},
		{"approval a second before merge counts", pr(rv("dave-gh", "APPROVED", 10*h-time.Second)), base(map[string][]float64{
			"github_pr_pickup_time_seconds": {(10*h - time.Second).Seconds()},
			"github_pr_review_time_seconds": {1},
			"github_pr_reviewed":            {1},
		})},
		{"review by a deleted account (user null) counts", pr(reviewInfo{State: "APPROVED", SubmittedAt: atp(h)}), base(map[string][]float64{
			"github_pr_pickup_time_seconds": {h.Seconds()},
			"github_pr_review_time_seconds": {(9 * h).Seconds()},
			"github_pr_reviewed":            {1},
		})},
		{"changes requested by a deleted account is rework", pr(reviewInfo{State: "CHANGES_REQUESTED", SubmittedAt: atp(2 * h)}, rv("dave-gh", "COMMENTED", h)), base(map[string][]float64{
			"github_pr_pickup_time_seconds": {h.Seconds()},
			"github_pr_review_time_seconds": {(9 * h).Seconds()},
			"github_pr_rework":              {1},
		})},
		{"changes requested by the author is still rework (SPEC: any CHANGES_REQUESTED review)", pr(rv("alice-gh", "CHANGES_REQUESTED", h)), base(map[string][]float64{
			"github_pr_rework": {1},
		})},
		{"author and reviewer both deleted: cannot tell them apart, review ignored", func() pullRecord {
			p := pr(reviewInfo{State: "COMMENTED", SubmittedAt: atp(h)}, rv("dave-gh", "APPROVED", 2*h))
			p.Author = ""
			return p
		}(), base(map[string][]float64{
			"github_pr_pickup_time_seconds": {(2 * h).Seconds()},
			"github_pr_review_time_seconds": {(8 * h).Seconds()},
			"github_pr_reviewed":            {1},
		})},
		{"not merged: no sample", pullRecord{Repo: "acme/api", Number: 2, Author: "alice-gh", State: "closed", CreatedAt: t0, ClosedAt: atp(h)}, map[string][]float64{}},
		{"open: no sample", pullRecord{Repo: "acme/api", Number: 3, Author: "alice-gh", State: "open", CreatedAt: t0}, map[string][]float64{}},
		{"bot author in bots: no sample", func() pullRecord { p := pr(rv("dave-gh", "APPROVED", h)); p.Author = "Dependabot[bot]"; return p }(), map[string][]float64{}},
		{"bot author of type Bot: no sample", func() pullRecord { p := pr(); p.Author, p.AuthorType = "ci-app[bot]", "Bot"; return p }(), map[string][]float64{}},
	}
	c := normConnector()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Normalize(record(t, KindPull, tt.pr))
			if err != nil {
				t.Fatal(err)
			}
			if gv := values(got); !equalValues(gv, tt.want) {
				t.Fatalf("values = %v, want %v", gv, tt.want)
			}
			for _, s := range got {
				if !s.Time.Equal(*merged) || s.Actor != tt.pr.Author || s.TeamKey != "acme/api" ||
					s.Labels["repo"] != "acme/api" || len(s.Labels) != 1 || s.Connector != "" {
					t.Fatalf("sample %+v: want time merged_at, actor author, team key and repo label", s)
				}
			}
		})
	}
}

func TestNormalizeOpenPull(t *testing.T) {
	listed := at(48 * time.Hour)
	tests := []struct {
		name string
		pr   pullRecord
		want int
	}{
		{"open", pullRecord{Repo: "acme/web", Number: 7, Author: "erin-gh", State: "open", CreatedAt: t0, ListedAt: listed}, 1},
		{"draft counts", pullRecord{Repo: "acme/web", Number: 8, Author: "erin-gh", State: "open", Draft: true, CreatedAt: t0, ListedAt: listed}, 1},
		{"undeclared author still counts (org level)", pullRecord{Repo: "acme/web", Number: 9, Author: "outside-contrib", State: "open", CreatedAt: t0, ListedAt: listed}, 1},
		{"bot author excluded", pullRecord{Repo: "acme/web", Number: 10, Author: "dependabot[bot]", AuthorType: "Bot", State: "open", CreatedAt: t0, ListedAt: listed}, 0},
	}
	c := normConnector()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Normalize(record(t, KindOpenPull, tt.pr))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d samples, want %d", len(got), tt.want)
			}
			for _, s := range got {
				if s.Measure != "github_prs_open" || s.Value != 1 || !s.Time.Equal(listed) || s.Actor != tt.pr.Author || s.TeamKey != "acme/web" {
					t.Fatalf("sample %+v", s)
				}
			}
		})
	}
}

func TestNormalizeDeployment(t *testing.T) {
	h := time.Hour
	done := at(10 * h)
	tests := []struct {
		name string
		d    deploymentRecord
		want map[string][]float64
	}{
		{"success with commits", deploymentRecord{Outcome: "success", OutcomeAt: done, CommitDates: []time.Time{at(2 * h), at(8 * h)}},
			map[string][]float64{"github_deployments": {1}, "github_deployment_failed": {0}, "github_lead_time_seconds": {(2 * h).Seconds(), (8 * h).Seconds()}}},
		{"first success: no previous, no lead time", deploymentRecord{Outcome: "success", OutcomeAt: done},
			map[string][]float64{"github_deployments": {1}, "github_deployment_failed": {0}}},
		{"commit dated after the deployment: one sample per shipped commit, negative", deploymentRecord{Outcome: "success", OutcomeAt: done, CommitDates: []time.Time{at(11 * h), at(9 * h)}},
			map[string][]float64{"github_deployments": {1}, "github_deployment_failed": {0}, "github_lead_time_seconds": {-h.Seconds(), h.Seconds()}}},
		{"failure", deploymentRecord{Outcome: "failure", OutcomeAt: done}, map[string][]float64{"github_deployment_failed": {1}}},
		{"error", deploymentRecord{Outcome: "error", OutcomeAt: done}, map[string][]float64{"github_deployment_failed": {1}}},
		{"no terminal status", deploymentRecord{OutcomeAt: done}, map[string][]float64{}},
		{"environment no longer a production one", deploymentRecord{Environment: "staging", Outcome: "success", OutcomeAt: done}, map[string][]float64{}},
	}
	c := normConnector()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.d.Repo, tt.d.ID, tt.d.CreatedAt = "acme/api", 42, t0
			if tt.d.Environment == "" {
				tt.d.Environment = "production"
			}
			got, err := c.Normalize(record(t, KindDeployment, tt.d))
			if err != nil {
				t.Fatal(err)
			}
			if gv := values(got); !equalValues(gv, tt.want) {
				t.Fatalf("values = %v, want %v", gv, tt.want)
			}
			for _, s := range got {
				if !s.Time.Equal(done) || s.Actor != "" || s.TeamKey != "acme/api" ||
					s.Labels["repo"] != "acme/api" || s.Labels["environment"] != "production" {
					t.Fatalf("sample %+v: want team-level sample at the outcome time with repo and environment", s)
				}
			}
		})
	}
}

func TestNormalizeIssue(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name string
		is   issueRecord
		want map[string][]float64
		when map[string]time.Time
	}{
		{"closed incident", issueRecord{State: "closed", Labels: []string{"incident"}, ClosedAt: atp(3 * h)},
			map[string][]float64{"github_incident_restore_time_seconds": {(3 * h).Seconds()}}, map[string]time.Time{"github_incident_restore_time_seconds": at(3 * h)}},
		{"open incident", issueRecord{State: "open", Labels: []string{"incident"}}, map[string][]float64{}, nil},
		{"reopened incident keeps no closed_at", issueRecord{State: "open", Labels: []string{"Incident"}, ClosedAt: nil}, map[string][]float64{}, nil},
		{"second incident label, any case", issueRecord{State: "closed", Labels: []string{"SEV1"}, ClosedAt: atp(h)},
			map[string][]float64{"github_incident_restore_time_seconds": {h.Seconds()}}, nil},
		{"bug counted at creation, open or closed", issueRecord{State: "open", Labels: []string{"bug"}},
			map[string][]float64{"github_bugs_opened": {1}}, map[string]time.Time{"github_bugs_opened": t0}},
		{"incident and bug", issueRecord{State: "closed", Labels: []string{"bug", "incident"}, ClosedAt: atp(2 * h)},
			map[string][]float64{"github_bugs_opened": {1}, "github_incident_restore_time_seconds": {(2 * h).Seconds()}}, nil},
		{"label no longer configured", issueRecord{State: "closed", Labels: []string{"outage"}, ClosedAt: atp(h)}, map[string][]float64{}, nil},
	}
	c := normConnector()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.is.Repo, tt.is.Number, tt.is.CreatedAt, tt.is.UpdatedAt = "acme/api", 5, t0, at(4*h)
			got, err := c.Normalize(record(t, KindIssue, tt.is))
			if err != nil {
				t.Fatal(err)
			}
			if gv := values(got); !equalValues(gv, tt.want) {
				t.Fatalf("values = %v, want %v", gv, tt.want)
			}
			for _, s := range got {
				if w, ok := tt.when[s.Measure]; ok && !s.Time.Equal(w) {
					t.Fatalf("%s at %v, want %v", s.Measure, s.Time, w)
				}
				if s.Actor != "" || s.TeamKey != "acme/api" || s.Labels["repo"] != "acme/api" {
					t.Fatalf("sample %+v: want team-level sample with the repo label", s)
				}
			}
		})
	}
}

func TestNormalizeErrors(t *testing.T) {
	c := normConnector()
	tests := []struct {
		name string
		rec  connectors.Record
		err  bool
	}{
		{"unknown kind", connectors.Record{Kind: "commit", ID: "x", Data: []byte(`{}`)}, true},
		{"bad data", connectors.Record{Kind: KindPull, ID: "x", Data: []byte(`{"merged_at":12}`)}, true},
		{"deleted record", connectors.Record{Kind: KindPull, ID: "x", Deleted: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Normalize(tt.rec)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if len(got) != 0 {
				t.Fatalf("got samples %v", got)
			}
		})
	}
}
