package github

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"testing"
	"time"

	gh "github.com/google/go-github/v84/github"

	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/internal/sim"
	"github.com/kpid/kpid/internal/sim/githubsim"
	"github.com/kpid/kpid/pipeline"
)

// The listings whose answers FuzzDecodePage feeds through the connector's
// decoding and reduction, selected by the first fuzz argument.
const (
	pagePulls = iota
	pageReviews
	pageDeployments
	pageStatuses
	pageCompare
	pageIssues
	pageOrgRepos
	pageKinds
)

// decodePage decodes body as the answer of one listing with the connector's
// decoder (decodeBody, into go-github's types, as get does), and reduces it
// to the records the connector would store.
func decodePage(c *Connector, kind uint8, body []byte) ([]connectors.Record, error) {
	const repo = "acme/api"
	switch kind % pageKinds {
	case pagePulls:
		var list []*gh.PullRequest
		if err := decodeBody(body, &list); err != nil {
			return nil, err
		}
		var out []connectors.Record
		for _, pr := range list {
			p := pullFromAPI(repo, pr)
			data, err := json.Marshal(p)
			if err != nil {
				return nil, err
			}
			out = append(out, connectors.Record{Kind: KindPull, ID: pullID(repo, p.Number), Updated: p.UpdatedAt, Data: data})
			p.ListedAt = p.UpdatedAt
			data, err = json.Marshal(p)
			if err != nil {
				return nil, err
			}
			out = append(out, connectors.Record{Kind: KindOpenPull, ID: pullID(repo, p.Number), Updated: p.UpdatedAt, Data: data})
		}
		return out, nil
	case pageReviews:
		var list []*gh.PullRequestReview
		if err := decodeBody(body, &list); err != nil {
			return nil, err
		}
		merged := t0.Add(48 * time.Hour)
		p := pullRecord{Repo: repo, Number: 1, Author: "alice-gh", State: "closed", CreatedAt: t0, UpdatedAt: merged, MergedAt: &merged, Reviews: reviewsFromAPI(list)}
		data, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		return []connectors.Record{{Kind: KindPull, ID: pullID(repo, 1), Updated: merged, Data: data}}, nil
	case pageDeployments:
		var list []*gh.Deployment
		return nil, decodeBody(body, &list)
	case pageStatuses:
		var list []*gh.DeploymentStatus
		if err := decodeBody(body, &list); err != nil {
			return nil, err
		}
		outcome, at, ok := firstTerminal(list)
		if !ok {
			return nil, nil
		}
		d := deploymentRecord{Repo: repo, Environment: "production", ID: 1, SHA: "b", CreatedAt: t0, Outcome: outcome, OutcomeAt: at,
			PreviousSHA: "a", CommitDates: []time.Time{at.Add(-time.Hour), t0}}
		data, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		return []connectors.Record{{Kind: KindDeployment, ID: deployID(repo, 1), Updated: at, Data: data}}, nil
	case pageCompare:
		var cmp gh.CommitsComparison
		if err := decodeBody(body, &cmp); err != nil {
			return nil, err
		}
		var dates []time.Time
		for _, rc := range cmp.Commits {
			if at := commitDate(rc); at != nil {
				dates = append(dates, *at)
			}
		}
		d := deploymentRecord{Repo: repo, Environment: "production", ID: 2, SHA: "b", CreatedAt: t0, Outcome: outcomeSuccess,
			OutcomeAt: t0.Add(time.Hour), PreviousSHA: "a", CommitDates: dates}
		data, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		return []connectors.Record{{Kind: KindDeployment, ID: deployID(repo, 2), Updated: d.OutcomeAt, Data: data}}, nil
	case pageIssues:
		var list []*gh.Issue
		if err := decodeBody(body, &list); err != nil {
			return nil, err
		}
		var out []connectors.Record
		for _, is := range list {
			if is.IsPullRequest() {
				continue
			}
			rec, err := c.issueRecord(repo, is)
			if err != nil {
				return nil, err
			}
			out = append(out, rec)
		}
		return out, nil
	default:
		var list []*gh.Repository
		if err := decodeBody(body, &list); err != nil {
			return nil, err
		}
		for _, r := range list {
			_, _ = r.GetArchived(), r.GetFullName()
		}
		return nil, nil
	}
}

// checkNormalize normalises a record twice: the samples must be the same
// (Normalize is pure), of known github_* measures, with finite values.
// built says the connector made the record itself, so it must decode.
func checkNormalize(t *testing.T, c *Connector, rec connectors.Record, built bool) {
	t.Helper()
	a, err := c.Normalize(rec)
	if err != nil {
		if built {
			t.Fatalf("a record the connector built does not normalise: %v\n%s", err, rec.Data)
		}
		return
	}
	b, err := c.Normalize(rec)
	if err != nil || !reflect.DeepEqual(a, b) {
		t.Fatalf("Normalize is not deterministic: %v, %v / %v", a, b, err)
	}
	for _, s := range a {
		m, ok := pipeline.LookupMeasure(s.Measure)
		if !ok || m.Source != "github" {
			t.Fatalf("sample of measure %q from the github normaliser", s.Measure)
		}
		if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
			t.Fatalf("sample %s has value %v", s.Measure, s.Value)
		}
	}
}

// simPages are real answers of the simulator, one or more per listing.
func simPages(f *testing.F) map[uint8][][]byte {
	f.Helper()
	s := githubsim.New(sim.Acme(), simNow, 7)
	s.SetClock(func() time.Time { return simNow })
	srv := httptest.NewServer(s)
	defer srv.Close()
	get := func(path string) []byte {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			f.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+s.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			f.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			f.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return b
	}
	out := map[uint8][][]byte{}
	add := func(kind uint8, path string) []byte {
		b := get(path)
		out[kind] = append(out[kind], b)
		return b
	}
	add(pagePulls, "/repos/acme/api/pulls?state=all&sort=updated&direction=desc&per_page=4")
	add(pagePulls, "/repos/acme/api/pulls?state=open&per_page=2")
	for _, p := range s.Pulls("acme/api") {
		if p.MergedAt != nil && p.Reviews > 1 {
			add(pageReviews, fmt.Sprintf("/repos/acme/api/pulls/%d/reviews", p.Number))
			break
		}
	}
	var deploys []*gh.Deployment
	if err := json.Unmarshal(add(pageDeployments, "/repos/acme/api/deployments?environment=production&per_page=3"), &deploys); err != nil || len(deploys) < 2 {
		f.Fatalf("simulator deployments: %d, %v", len(deploys), err)
	}
	add(pageStatuses, fmt.Sprintf("/repos/acme/api/deployments/%d/statuses", deploys[0].GetID()))
	add(pageCompare, fmt.Sprintf("/repos/acme/api/compare/%s...%s?per_page=3", deploys[1].GetSHA(), deploys[0].GetSHA()))
	add(pageIssues, "/repos/acme/api/issues?labels=incident&state=all&per_page=3")
	add(pageOrgRepos, "/orgs/acme/repos?per_page=3")
	return out
}

// recordedPages are two pull requests and one review list of the recorded
// answers in testdata, compacted.
func recordedPages(f *testing.F) map[uint8][][]byte {
	f.Helper()
	var pulls []json.RawMessage
	var reviews map[string]json.RawMessage
	for name, v := range map[string]any{"ants_pulls.json": &pulls, "ants_reviews_by_pr.json": &reviews} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			f.Fatal(err)
		}
	}
	two, err := json.Marshal(pulls[:2])
	if err != nil {
		f.Fatal(err)
	}
	return map[uint8][][]byte{pagePulls: {two}, pageReviews: {reviews["41"]}}
}

// FuzzDecodePage feeds arbitrary bytes as the body of a listing through the
// connector's decoding and reduction, then normalises what comes out: an
// answer that does not decode is an error, never a panic, and every record
// the connector builds can be stored (a time json cannot encode counts as
// unset) and normalises to valid samples.
func FuzzDecodePage(f *testing.F) {
	for _, seeds := range []map[uint8][][]byte{simPages(f), recordedPages(f)} {
		for kind, bodies := range seeds {
			for _, b := range bodies {
				f.Add(kind, b)
			}
		}
	}
	for kind := range uint8(pageKinds) {
		for _, b := range []string{"", "null", "[]", "[null]", "{}", `[{"created_at": 1e400}]`, `[{"created_at": -62135596801}]`, `[{"created_at": -62167219201, "closed_at": 9223372036854775}]`} {
			f.Add(kind, []byte(b))
		}
	}
	c := normConnector()
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		records, err := decodePage(c, kind, body)
		var unstorable *json.MarshalerError
		if errors.As(err, &unstorable) {
			t.Fatalf("a record built from the answer cannot be stored: %v", err)
		}
		if err != nil {
			return
		}
		for _, rec := range records {
			checkNormalize(t, c, rec, true)
		}
	})
}

// FuzzNormalize feeds arbitrary record data of every kind to Normalize: it
// errors or derives valid samples, deterministically, and never panics.
func FuzzNormalize(f *testing.F) {
	kinds := []string{KindPull, KindOpenPull, KindDeployment, KindIssue}
	merged := t0.Add(30 * time.Hour)
	for i, v := range []any{
		pullRecord{Repo: "acme/api", Number: 1, Author: "alice-gh", State: "closed", CreatedAt: t0, UpdatedAt: merged, MergedAt: &merged,
			Reviews: []reviewInfo{rv("bob-gh", reviewApproved, time.Hour), rv("carol", reviewChangesRequested, 2*time.Hour), rv("dependabot[bot]", reviewApproved, 3*time.Hour)}},
		pullRecord{Repo: "acme/api", Number: 2, Author: "alice-gh", State: "open", Draft: true, CreatedAt: t0, UpdatedAt: t0, ListedAt: t0},
		deploymentRecord{Repo: "acme/api", Environment: "production", ID: 3, SHA: "b", CreatedAt: t0, Outcome: outcomeSuccess, OutcomeAt: merged, PreviousSHA: "a", CommitDates: []time.Time{t0, merged.Add(time.Hour)}},
		issueRecord{Repo: "acme/api", Number: 4, State: "closed", CreatedAt: t0, UpdatedAt: merged, ClosedAt: &merged, Labels: []string{"incident", "bug"}},
	} {
		data, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), data)
	}
	for i := range kinds {
		for _, b := range []string{"", "null", "{}", `{"merged_at": "x"}`, `{"reviews": [null]}`, `{"outcome": "failure", "commit_dates": [null]}`, `{"labels": [1]}`} {
			f.Add(uint8(i), []byte(b))
		}
	}
	c := normConnector()
	c.cfg.ProductionEnvironments = []string{"production"}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		rec := connectors.Record{Kind: kinds[int(kind)%len(kinds)], ID: "acme/api#1", Updated: t0, Data: data}
		checkNormalize(t, c, rec, false)
	})
}
