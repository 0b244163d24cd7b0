package github

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/pipeline"
)

// Record kinds of this connector.
const (
	KindPull       = "pull"
	KindOpenPull   = "open_pull"
	KindDeployment = "deployment"
	KindIssue      = "issue"
)

// Review states of the pull request reviews API.
const (
	reviewApproved         = "APPROVED"
	reviewChangesRequested = "CHANGES_REQUESTED"
	reviewPending          = "PENDING"
)

// Deployment outcomes: the first terminal deployment status.
const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
	outcomeError   = "error"
)

// userTypeBot is the `type` GitHub gives app and bot accounts.
const userTypeBot = "Bot"

// pullRecord is the stored form of a pull request (kinds "pull" and
// "open_pull"): times, state, the author's login and type and, for merged
// pull requests, the reviews. No title, body or comment is kept.
type pullRecord struct {
	Repo       string       `json:"repo"`
	Number     int          `json:"number"`
	Author     string       `json:"author,omitempty"`
	AuthorType string       `json:"author_type,omitempty"`
	State      string       `json:"state,omitempty"`
	Draft      bool         `json:"draft,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
	ClosedAt   *time.Time   `json:"closed_at,omitempty"`
	MergedAt   *time.Time   `json:"merged_at,omitempty"`
	Reviews    []reviewInfo `json:"reviews,omitempty"`
	// ListedAt is when an open pull request was listed (open_pull only):
	// the time of its snapshot sample.
	ListedAt time.Time `json:"listed_at,omitempty"`
}

// reviewInfo is one pull request review, reduced.
type reviewInfo struct {
	User        string     `json:"user,omitempty"`
	UserType    string     `json:"user_type,omitempty"`
	State       string     `json:"state"`
	SubmittedAt *time.Time `json:"submitted_at,omitempty"`
}

// deploymentRecord is a deployment to a production environment with a
// terminal status: its outcome and, for a success, the author dates of the
// commits it shipped since the previous successful deployment.
type deploymentRecord struct {
	Repo        string      `json:"repo"`
	Environment string      `json:"environment"`
	ID          int64       `json:"id"`
	SHA         string      `json:"sha,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	Outcome     string      `json:"outcome"`
	OutcomeAt   time.Time   `json:"outcome_at"`
	PreviousSHA string      `json:"previous_sha,omitempty"`
	CommitDates []time.Time `json:"commit_dates,omitempty"`
	Truncated   bool        `json:"truncated,omitempty"`
}

// issueRecord is an issue carrying one of the incident or bug labels.
type issueRecord struct {
	Repo      string     `json:"repo"`
	Number    int        `json:"number"`
	State     string     `json:"state,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	ClosedAt  *time.Time `json:"closed_at,omitempty"`
	// Labels are the issue's labels that are incident or bug labels.
	Labels []string `json:"labels,omitempty"`
}

// Normalize derives the samples of one record (SPEC §4.1, "GitHub
// details"). It is pure: it reads the record and the connector's options
// (bots, labels), nothing else.
func (c *Connector) Normalize(rec connectors.Record) ([]pipeline.Sample, error) {
	if rec.Deleted {
		return nil, nil
	}
	switch rec.Kind {
	case KindPull:
		var p pullRecord
		if err := json.Unmarshal(rec.Data, &p); err != nil {
			return nil, fmt.Errorf("decode github pull record %s: %w", rec.ID, err)
		}
		return c.normalizePull(p), nil
	case KindOpenPull:
		var p pullRecord
		if err := json.Unmarshal(rec.Data, &p); err != nil {
			return nil, fmt.Errorf("decode github open pull record %s: %w", rec.ID, err)
		}
		return c.normalizeOpenPull(p, rec.Updated), nil
	case KindDeployment:
		var d deploymentRecord
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			return nil, fmt.Errorf("decode github deployment record %s: %w", rec.ID, err)
		}
		return c.normalizeDeployment(d), nil
	case KindIssue:
		var is issueRecord
		if err := json.Unmarshal(rec.Data, &is); err != nil {
			return nil, fmt.Errorf("decode github issue record %s: %w", rec.ID, err)
		}
		return c.normalizeIssue(is), nil
	default:
		return nil, fmt.Errorf("normalize github record %s: unknown kind %q", rec.ID, rec.Kind)
	}
}

// isBot reports whether a login is a bot: listed in `bots` (case-insensitive)
// or of user type Bot.
func (c *Connector) isBot(login, userType string) bool {
	if userType == userTypeBot {
		return true
	}
	_, ok := c.bots[strings.ToLower(login)]
	return ok
}

func repoLabels(repo string) map[string]string { return map[string]string{"repo": repo} }

// normalizePull implements the github_pr_* measures. Only merged pull
// requests give samples; a bot's pull request gives none.
//
// Reviews that count: not PENDING, not by a bot, not by the author (the
// author's replies in review threads are COMMENTED reviews of their own).
// A review whose user is null (GitHub answers null for an account deleted
// since; the UI shows "ghost") is someone else's review: it counts, unless
// the pull request's author is null too and the two cannot be told apart.
// Pickup and review time use the first such review, whenever it came (SPEC
// §4.1 to the letter: a PR reviewed only after its merge has a pickup time
// longer than its cycle time and a negative review time, which is what
// happened); DISMISSED reviews count for them. Reviewed is 1 when such a review is
// APPROVED and was submitted strictly before merged_at (SPEC: "submitted
// before merged_at"; an approval in the second of the merge is not before
// it). Rework is 1 when any review, at any time, is CHANGES_REQUESTED:
// SPEC §4.1 says "any", with no author condition (unlike pickup and
// reviewed), and only bots' and PENDING reviews are ignored everywhere.
// GitHub does not let authors request changes on their own pull requests,
// so this differs only on data GitHub itself would not produce.
func (c *Connector) normalizePull(p pullRecord) []pipeline.Sample {
	if p.MergedAt == nil || c.isBot(p.Author, p.AuthorType) {
		return nil
	}
	merged := *p.MergedAt
	base := pipeline.Sample{Time: merged, Actor: p.Author, TeamKey: p.Repo, Labels: repoLabels(p.Repo)}
	sample := func(measure string, v float64) pipeline.Sample {
		s := base
		s.Measure = measure
		s.Value = v
		s.Labels = repoLabels(p.Repo)
		return s
	}

	reviews := make([]reviewInfo, 0, len(p.Reviews))
	rework := 0.0
	for _, r := range p.Reviews {
		if r.State == reviewPending || (r.User != "" && c.isBot(r.User, r.UserType)) {
			continue
		}
		if r.State == reviewChangesRequested {
			rework = 1
		}
		if r.SubmittedAt == nil {
			continue
		}
		if r.User == "" {
			if p.Author == "" {
				continue
			}
		} else if strings.EqualFold(r.User, p.Author) {
			continue
		}
		reviews = append(reviews, r)
	}
	sort.SliceStable(reviews, func(i, j int) bool { return reviews[i].SubmittedAt.Before(*reviews[j].SubmittedAt) })

	out := []pipeline.Sample{
		sample("github_pr_merged", 1),
		sample("github_pr_cycle_time_seconds", merged.Sub(p.CreatedAt).Seconds()),
	}
	reviewed := 0.0
	var first *time.Time
	for _, r := range reviews {
		before := r.SubmittedAt.Before(merged)
		if first == nil {
			first = r.SubmittedAt
		}
		if before && r.State == reviewApproved {
			reviewed = 1
		}
	}
	if first != nil {
		out = append(out,
			sample("github_pr_pickup_time_seconds", first.Sub(p.CreatedAt).Seconds()),
			sample("github_pr_review_time_seconds", merged.Sub(*first).Seconds()),
		)
	}
	out = append(out,
		sample("github_pr_reviewed", reviewed),
		sample("github_pr_rework", rework),
	)
	return out
}

// normalizeOpenPull is the github_prs_open snapshot: one sample per open
// pull request (drafts included), bots' excluded, at the listing time.
func (c *Connector) normalizeOpenPull(p pullRecord, updated time.Time) []pipeline.Sample {
	if c.isBot(p.Author, p.AuthorType) {
		return nil
	}
	at := p.ListedAt
	if at.IsZero() {
		at = updated
	}
	return []pipeline.Sample{{
		Measure: "github_prs_open", Time: at, Value: 1,
		Actor: p.Author, TeamKey: p.Repo, Labels: repoLabels(p.Repo),
	}}
}

// normalizeDeployment implements github_deployments,
// github_deployment_failed and github_lead_time_seconds. Samples are
// team-level (no actor). Every commit the deployment shipped gives one lead
// time sample (SPEC §4.1), a commit whose author date is after the
// deployment's success (a skewed or rewritten author date) too: its lead
// time is negative, which is what the data says.
//
// Only deployments to an environment still listed in
// production_environments count, so that a recompute after that option
// changes drops the others.
func (c *Connector) normalizeDeployment(d deploymentRecord) []pipeline.Sample {
	if !slices.Contains(c.cfg.ProductionEnvironments, d.Environment) {
		return nil
	}
	var failed float64
	switch d.Outcome {
	case outcomeSuccess:
	case outcomeFailure, outcomeError:
		failed = 1
	default:
		return nil
	}
	labels := func() map[string]string {
		return map[string]string{"repo": d.Repo, "environment": d.Environment}
	}
	out := []pipeline.Sample{{
		Measure: "github_deployment_failed", Time: d.OutcomeAt, Value: failed,
		TeamKey: d.Repo, Labels: labels(),
	}}
	if failed == 1 {
		return out
	}
	out = append(out, pipeline.Sample{
		Measure: "github_deployments", Time: d.OutcomeAt, Value: 1,
		TeamKey: d.Repo, Labels: labels(),
	})
	for _, at := range d.CommitDates {
		out = append(out, pipeline.Sample{
			Measure: "github_lead_time_seconds", Time: d.OutcomeAt, Value: d.OutcomeAt.Sub(at).Seconds(),
			TeamKey: d.Repo, Labels: labels(),
		})
	}
	return out
}

// normalizeIssue implements github_incident_restore_time_seconds (closed
// issue with an incident label) and github_bugs_opened (issue with a bug
// label, at its creation). Labels match case-insensitively, as GitHub's
// label filter does.
func (c *Connector) normalizeIssue(is issueRecord) []pipeline.Sample {
	var incident, bug bool
	for _, l := range is.Labels {
		key := strings.ToLower(l)
		if _, ok := c.incidentLabels[key]; ok {
			incident = true
		}
		if _, ok := c.bugLabels[key]; ok {
			bug = true
		}
	}
	var out []pipeline.Sample
	if incident && is.State == "closed" && is.ClosedAt != nil {
		out = append(out, pipeline.Sample{
			Measure: "github_incident_restore_time_seconds", Time: *is.ClosedAt,
			Value: is.ClosedAt.Sub(is.CreatedAt).Seconds(), TeamKey: is.Repo, Labels: repoLabels(is.Repo),
		})
	}
	if bug {
		out = append(out, pipeline.Sample{
			Measure: "github_bugs_opened", Time: is.CreatedAt, Value: 1,
			TeamKey: is.Repo, Labels: repoLabels(is.Repo),
		})
	}
	return out
}
