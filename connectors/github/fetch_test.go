package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kpid/kpid/config"
	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/internal/httpclient"
	"github.com/kpid/kpid/internal/sim"
	"github.com/kpid/kpid/internal/sim/githubsim"
)

var simNow = time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)

var errCrash = errors.New("simulated crash")

// memStore mimics the store: cursors per stream and records per key, both
// changed only when a page commits (emit returns nil).
type memStore struct {
	mu      sync.Mutex
	cursors map[string][]byte
	records map[string]connectors.Record // kind + "|" + id
	emits   int
	failAt  int // the failAt-th emit fails without committing; 0: never
	norm    *Connector
}

func newStore() *memStore {
	return &memStore{cursors: map[string][]byte{}, records: map[string]connectors.Record{}}
}

func (m *memStore) Cursor(stream string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursors[stream], nil
}

func (m *memStore) emit(_ context.Context, p connectors.Page) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.emits++
	if m.failAt > 0 && m.emits == m.failAt {
		return errCrash
	}
	for _, r := range p.Records {
		if m.norm != nil {
			if _, err := m.norm.Normalize(r); err != nil {
				return err
			}
		}
		key := r.Kind + "|" + r.ID
		if r.Deleted {
			delete(m.records, key)
			continue
		}
		m.records[key] = r
	}
	if p.Prune != nil {
		for key, r := range m.records {
			if r.Kind != p.Prune.Kind || !strings.HasPrefix(r.ID, p.Prune.Prefix) {
				continue
			}
			if _, keep := p.Prune.Keep[r.ID]; !keep {
				delete(m.records, key)
			}
		}
	}
	if p.Cursor != nil {
		m.cursors[p.Stream] = p.Cursor
	}
	return nil
}

// ids returns the stored record ids of a kind, sorted.
func (m *memStore) ids(kind string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, r := range m.records {
		if r.Kind == kind {
			out = append(out, r.ID)
		}
	}
	sort.Strings(out)
	return out
}

func (m *memStore) snapshot() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for k, r := range m.records {
		out[k] = string(r.Data) + "@" + r.Updated.String()
	}
	return out
}

type env struct {
	t         *testing.T
	sim       *githubsim.Server
	srv       *httptest.Server
	sleeps    []time.Duration
	truncated int
	mu        sync.Mutex
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := githubsim.New(sim.Acme(), simNow, 7)
	s.SetClock(func() time.Time { return simNow })
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{t: t, sim: s, srv: srv}
}

func (e *env) config() *Config {
	c := DefaultConfig()
	c.Name, c.Schedule = "acme-github", "@every 15m"
	c.BaseURL = e.srv.URL + "/"
	c.Token = config.Secret(e.sim.Token())
	c.Repos = []string{"acme/*"}
	c.ExcludeRepos = []string{"acme/sandbox"}
	c.Bots = []string{"dependabot[bot]"}
	c.Teams = map[string]string{"acme/api": "platform", "acme/web": "platform"}
	return c
}

func (e *env) connector(edit func(*Config)) *Connector {
	e.t.Helper()
	cfg := e.config()
	if edit != nil {
		edit(cfg)
	}
	c, err := New(cfg, connectors.Deps{
		Metrics: httpclient.NewMetrics(prometheus.NewRegistry()),
		Logger:  slog.New(slog.DiscardHandler),
		Now:     e.sim.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.mu.Lock()
			e.sleeps = append(e.sleeps, d)
			e.mu.Unlock()
			return ctx.Err()
		},
		Truncated: func() { e.mu.Lock(); e.truncated++; e.mu.Unlock() },
	})
	if err != nil {
		e.t.Fatalf("new connector: %v", err)
	}
	return c
}

func (e *env) sync(c *Connector, st *memStore, full bool) error {
	st.norm = c
	return c.Fetch(context.Background(), st, full, st.emit)
}

var syncedRepos = []string{"acme/api", "acme/tools", "acme/web"}

// expected computes, from the simulator, the record ids a sync at now with
// a 90-day lookback must hold.
func expected(s *githubsim.Server) (pulls, open, deploys, issues []string, merged int) {
	horizon := s.Now().Add(-90 * 24 * time.Hour)
	for _, repo := range syncedRepos {
		for _, p := range s.Pulls(repo) {
			if !p.UpdatedAt.Before(horizon) {
				pulls = append(pulls, fmt.Sprintf("%s#%d", repo, p.Number))
				if p.MergedAt != nil {
					merged++
				}
			}
			if p.State == "open" {
				open = append(open, fmt.Sprintf("%s#%d", repo, p.Number))
			}
		}
		for _, d := range s.Deployments(repo, "production") {
			if d.Outcome != "" && !d.CreatedAt.Before(horizon) {
				deploys = append(deploys, fmt.Sprintf("%s/deployments/%d", repo, d.ID))
			}
		}
		for _, is := range s.Issues(repo) {
			tracked := false
			for _, l := range is.Labels {
				tracked = tracked || l == "incident" || l == "bug"
			}
			if tracked && !is.UpdatedAt.Before(horizon) {
				issues = append(issues, fmt.Sprintf("%s#%d", repo, is.Number))
			}
		}
	}
	for _, l := range [][]string{pulls, open, deploys, issues} {
		sort.Strings(l)
	}
	return pulls, open, deploys, issues, merged
}

func ceilDiv(n, d int) int { return (n + d - 1) / d }

func TestFirstSync(t *testing.T) {
	e := newEnv(t)
	c := e.connector(nil)
	st := newStore()
	if err := e.sync(c, st, false); err != nil {
		t.Fatalf("sync: %v", err)
	}
	pulls, open, deploys, issues, merged := expected(e.sim)
	if len(pulls) < 150 || len(open) < 10 || len(deploys) < 50 || len(issues) < 30 {
		t.Fatalf("simulator too small: %d pulls, %d open, %d deployments, %d issues", len(pulls), len(open), len(deploys), len(issues))
	}
	for _, tc := range []struct {
		kind string
		want []string
	}{{KindPull, pulls}, {KindOpenPull, open}, {KindDeployment, deploys}, {KindIssue, issues}} {
		if got := st.ids(tc.kind); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s records: got %d, want %d\n got %v\nwant %v", tc.kind, len(got), len(tc.want), got, tc.want)
		}
	}

	// P4: requests vs the lower bound of the endpoints.
	rec := e.sim.Recorder()
	bound := 0
	for _, repo := range syncedRepos {
		n, o := 0, 0
		for _, p := range e.sim.Pulls(repo) {
			if !p.UpdatedAt.Before(simNow.Add(-90 * 24 * time.Hour)) {
				n++
			}
			if p.State == "open" {
				o++
			}
		}
		bound += max(ceilDiv(n, 100), 1) + max(ceilDiv(o, 100), 1)
	}
	if got := rec.Count("GET /repos/{o}/{r}/pulls"); got > bound+2*len(syncedRepos) {
		t.Errorf("pull listing requests %d, lower bound %d", got, bound)
	}
	if got := rec.Count("GET /repos/{o}/{r}/pulls/{n}/reviews"); got != merged {
		t.Errorf("review requests %d, want one per merged pull request (%d)", got, merged)
	}
	if got := rec.Count("GET /orgs/{org}/repos"); got != 1 {
		t.Errorf("org listing requests %d, want 1", got)
	}
	t.Logf("first sync requests per endpoint: %v", rec.Counts())

	// Records keep no titles, bodies, names or emails.
	for _, r := range st.records {
		for _, banned := range []string{"Change ", "description", "Developer ", "@users.noreply", "Review comment"} {
			if strings.Contains(string(r.Data), banned) {
				t.Fatalf("record %s keeps %q: %s", r.ID, banned, r.Data)
			}
		}
	}

	// Deployments: the first success of each environment has no previous
	// one; later successes carry the commits shipped.
	withCommits := 0
	for _, r := range st.records {
		if r.Kind != KindDeployment {
			continue
		}
		var d deploymentRecord
		if err := json.Unmarshal(r.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Outcome == outcomeSuccess && d.PreviousSHA != "" && len(d.CommitDates) > 0 {
			withCommits++
		}
		if d.Outcome != outcomeSuccess && len(d.CommitDates) > 0 {
			t.Fatalf("failed deployment %s has commits", r.ID)
		}
	}
	if withCommits < 20 {
		t.Fatalf("only %d successful deployments with commits", withCommits)
	}
}

func TestNothingChangedSync(t *testing.T) {
	e := newEnv(t)
	c := e.connector(nil)
	st := newStore()
	if err := e.sync(c, st, false); err != nil {
		t.Fatalf("sync 1: %v", err)
	}
	before := st.snapshot()
	// The second run re-reads the overlap once; from then on every stream
	// is one conditional request answered 304.
	if err := e.sync(c, st, false); err != nil {
		t.Fatalf("sync 2: %v", err)
	}
	e.sim.Recorder().Reset()
	remaining := e.sim.RateRemaining()
	if err := e.sync(c, st, false); err != nil {
		t.Fatalf("sync 3: %v", err)
	}
	// streams: per repo pulls, open pulls, production deployments and two
	// labels; plus the statuses of the one deployment still in progress.
	streams := len(syncedRepos) * 5
	pending := 1
	if got := e.sim.Recorder().Total(); got > streams+pending {
		t.Fatalf("nothing-changed sync made %d requests, want at most %d: %v", got, streams+pending, e.sim.Recorder().Counts())
	}
	if got := e.sim.RateRemaining(); got != remaining {
		t.Fatalf("nothing-changed sync cost %d of the rate limit, want 0 (all 304)", remaining-got)
	}
	if after := st.snapshot(); !reflect.DeepEqual(before, after) {
		t.Fatal("records changed on a sync with nothing changed")
	}
}

func TestIncrementalSync(t *testing.T) {
	e := newEnv(t)
	c := e.connector(nil)
	st := newStore()
	if err := e.sync(c, st, false); err != nil {
		t.Fatalf("sync 1: %v", err)
	}
	e.sim.Advance(time.Hour)
	n, err := e.sim.OpenPull("acme/api", "alice-gh", false)
	if err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(time.Hour)
	must(t, e.sim.Review("acme/api", n, "dave-gh", "APPROVED"))
	e.sim.Advance(10 * time.Minute)
	must(t, e.sim.MergePull("acme/api", n))
	draft, err := e.sim.OpenPull("acme/web", "erin-gh", true)
	must(t, err)
	e.sim.Advance(10 * time.Minute)
	dep, err := e.sim.Deploy("acme/api", "production", "success")
	must(t, err)
	inc, err := e.sim.AddIssue("acme/api", []string{"incident"})
	must(t, err)
	e.sim.Advance(2 * time.Hour)
	must(t, e.sim.CloseIssue("acme/api", inc))

	e.sim.Recorder().Reset()
	if err := e.sync(c, st, false); err != nil {
		t.Fatalf("sync 2: %v", err)
	}
	if got := e.sim.Recorder().Count("GET /repos/{o}/{r}/pulls/{n}/reviews"); got != 1 {
		t.Errorf("review requests %d, want 1 (only the newly merged pull request)", got)
	}
	rec, ok := st.records[KindPull+"|"+fmt.Sprintf("acme/api#%d", n)]
	if !ok {
		t.Fatal("merged pull request not stored")
	}
	samples, err := c.Normalize(rec)
	must(t, err)
	vals := values(samples)
	if vals["github_pr_reviewed"][0] != 1 || vals["github_pr_cycle_time_seconds"][0] != (70*time.Minute).Seconds() {
		t.Errorf("merged pull request samples %v", vals)
	}
	if _, ok := st.records[KindOpenPull+"|"+fmt.Sprintf("acme/web#%d", draft)]; !ok {
		t.Error("new draft pull request not in the open snapshot")
	}
	if _, ok := st.records[KindOpenPull+"|"+fmt.Sprintf("acme/api#%d", n)]; ok {
		t.Error("merged pull request still in the open snapshot")
	}
	drec, ok := st.records[KindDeployment+"|"+fmt.Sprintf("acme/api/deployments/%d", dep)]
	if !ok {
		t.Fatal("new deployment not stored")
	}
	samples, err = c.Normalize(drec)
	must(t, err)
	vals = values(samples)
	if len(vals["github_deployments"]) != 1 || len(vals["github_lead_time_seconds"]) == 0 {
		t.Errorf("new deployment samples %v, want a success with lead times", vals)
	}
	irec, ok := st.records[KindIssue+"|"+fmt.Sprintf("acme/api#%d", inc)]
	if !ok {
		t.Fatal("incident not stored")
	}
	samples, err = c.Normalize(irec)
	must(t, err)
	if vals := values(samples); len(vals["github_incident_restore_time_seconds"]) != 1 || vals["github_incident_restore_time_seconds"][0] != (2*time.Hour).Seconds() {
		t.Errorf("incident samples %v", vals)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestPendingDeploymentResolves(t *testing.T) {
	e := newEnv(t)
	c := e.connector(nil)
	st := newStore()
	must(t, e.sync(c, st, false))
	deps := e.sim.Deployments("acme/api", "production")
	last := deps[len(deps)-1]
	if last.Outcome != "" {
		t.Fatalf("the simulator's latest production deployment should be in progress, is %q", last.Outcome)
	}
	id := fmt.Sprintf("%s|acme/api/deployments/%d", KindDeployment, last.ID)
	if _, ok := st.records[id]; ok {
		t.Fatal("deployment in progress stored")
	}
	e.sim.Advance(5 * time.Minute)
	must(t, e.sim.SetDeploymentStatus("acme/api", last.ID, "failure"))
	e.sim.Advance(time.Minute)
	must(t, e.sim.SetDeploymentStatus("acme/api", last.ID, "success"))
	must(t, e.sync(c, st, false))
	rec, ok := st.records[id]
	if !ok {
		t.Fatal("deployment not stored once terminal")
	}
	var d deploymentRecord
	must(t, json.Unmarshal(rec.Data, &d))
	if d.Outcome != outcomeFailure || !d.OutcomeAt.Equal(simNow.Add(5*time.Minute)) {
		t.Fatalf("outcome %s at %v, want the first terminal status (failure at +5m)", d.Outcome, d.OutcomeAt)
	}
	// A later status changes nothing and the deployment is no longer checked.
	e.sim.Recorder().Reset()
	must(t, e.sim.SetDeploymentStatus("acme/api", last.ID, "inactive"))
	must(t, e.sync(c, st, false))
	must(t, e.sync(c, st, false))
	if got := e.sim.Recorder().Count("GET /repos/{o}/{r}/deployments/{id}/statuses"); got != 0 {
		t.Fatalf("%d status requests for a settled deployment", got)
	}
}

// TestCrashResume fails the commit of the k-th page, then syncs again: the
// records must be exactly those of an uninterrupted sync.
func TestCrashResume(t *testing.T) {
	// acme/api alone has every kind of page: the synced repositories, two
	// pages of pull requests (with reviews), open pull requests, two
	// batches of deployments, issues of two labels, the issues reconcile
	// mark, and the pull requests and deployments reconciles seeded from
	// the walks (each followed by its stream cursor's ledger cleared).
	// Crash at each of them.
	api := func(c *Config) { c.Repos = []string{"acme/api"} }
	ref := newEnv(t)
	refStore := newStore()
	must(t, ref.sync(ref.connector(api), refStore, false))
	want := refStore.snapshot()
	pages := refStore.emits
	if pages < 7 {
		t.Fatalf("only %d pages in a first sync", pages)
	}
	// Page 1: repositories; 2 and 3: pull requests; 4: open pull
	// requests; 5 and 6: deployment batches; then issues and their
	// reconcile mark; the last four: the pull requests and deployments
	// reconciles and their ledgers cleared.
	for _, k := range []int{1, 2, 3, 4, 5, 6, pages - 4, pages - 3, pages - 2, pages - 1, pages} {
		t.Run(fmt.Sprintf("crash at page %d", k), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			c := e.connector(api)
			st := newStore()
			st.failAt = k
			if err := e.sync(c, st, false); !errors.Is(err, errCrash) {
				t.Fatalf("sync with a failing commit: %v, want the commit error", err)
			}
			st.failAt = 0
			must(t, e.sync(c, st, false))
			if got := st.snapshot(); !reflect.DeepEqual(got, want) {
				t.Fatalf("after resume: %d records, want %d; differing: %v", len(got), len(want), diffKeys(got, want))
			}
		})
	}
}

func diffKeys(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	if len(out) > 10 {
		out = out[:10]
	}
	return out
}

func TestFullSync(t *testing.T) {
	e := newEnv(t)
	c := e.connector(nil)
	st := newStore()
	must(t, e.sync(c, st, false))
	first := e.sim.Recorder().Counts()
	delete(first, "GET /orgs/{org}/repos") // cached for an hour
	e.sim.Recorder().Reset()
	must(t, e.sync(c, st, true))
	again := e.sim.Recorder().Counts()
	if !reflect.DeepEqual(first, again) {
		t.Fatalf("full sync requests %v, want those of a first sync %v", again, first)
	}
	pulls, _, _, _, _ := expected(e.sim)
	if got := st.ids(KindPull); !reflect.DeepEqual(got, pulls) {
		t.Fatalf("full sync: %d pull records, want %d", len(got), len(pulls))
	}
}

func TestOrgDiscovery(t *testing.T) {
	e := newEnv(t)
	c := e.connector(nil)
	repos, err := c.repos(context.Background())
	must(t, err)
	if !reflect.DeepEqual(repos, syncedRepos) {
		t.Fatalf("repos %v, want %v (archived and excluded skipped)", repos, syncedRepos)
	}
	_, err = c.repos(context.Background())
	must(t, err)
	e.sim.Advance(59 * time.Minute)
	_, err = c.repos(context.Background())
	must(t, err)
	if got := e.sim.Recorder().Count("GET /orgs/{org}/repos"); got != 1 {
		t.Fatalf("%d org listings within the hour, want 1", got)
	}
	e.sim.Advance(2 * time.Minute)
	_, err = c.repos(context.Background())
	must(t, err)
	if got := e.sim.Recorder().Count("GET /orgs/{org}/repos"); got != 2 {
		t.Fatalf("%d org listings after the hour, want 2", got)
	}
	explicit := e.connector(func(c *Config) { c.Repos = []string{"acme/web", "acme/sandbox"} })
	repos, err = explicit.repos(context.Background())
	must(t, err)
	if !reflect.DeepEqual(repos, []string{"acme/web"}) {
		t.Fatalf("explicit repos %v", repos)
	}
}

func TestReconcileIssues(t *testing.T) {
	e := newEnv(t)
	c := e.connector(nil)
	st := newStore()
	must(t, e.sync(c, st, false))
	var bug, other int
	for _, is := range e.sim.Issues("acme/api") {
		if reflect.DeepEqual(is.Labels, []string{"bug"}) && bug == 0 && is.UpdatedAt.After(simNow.Add(-80*24*time.Hour)) {
			bug = is.Number
		} else if len(is.Labels) > 0 && is.Labels[0] == "incident" && other == 0 && is.UpdatedAt.After(simNow.Add(-80*24*time.Hour)) {
			other = is.Number
		}
	}
	if bug == 0 || other == 0 {
		t.Fatal("no bug or incident issue in the simulator")
	}
	must(t, e.sim.SetIssueLabels("acme/api", bug, []string{"enhancement"}))
	must(t, e.sim.DeleteIssue("acme/api", other))
	bugID, otherID := fmt.Sprintf("%s|acme/api#%d", KindIssue, bug), fmt.Sprintf("%s|acme/api#%d", KindIssue, other)
	e.sim.Advance(time.Hour)
	must(t, e.sync(c, st, false))
	if _, ok := st.records[bugID]; !ok {
		t.Fatal("reconcile ran before its interval")
	}
	e.sim.Advance(24 * time.Hour)
	must(t, e.sync(c, st, false))
	for _, id := range []string{bugID, otherID} {
		if _, ok := st.records[id]; ok {
			t.Errorf("%s still stored after reconcile", id)
		}
	}
	if len(st.ids(KindIssue)) < 20 {
		t.Fatalf("reconcile pruned too much: %d issues left", len(st.ids(KindIssue)))
	}
}

func TestUpstreamFaults(t *testing.T) {
	pulls := "GET /repos/{o}/{r}/pulls"
	tests := []struct {
		name    string
		fault   sim.Fault
		wantErr func(error) bool
		check   string // text the error must contain
	}{
		{"429 with Retry-After, then success", sim.Fault{Endpoint: pulls, Status: 429, Header: http.Header{"Retry-After": {"3"}}, Body: `{"message":"You have exceeded a secondary rate limit."}`}, nil, ""},
		{"502 then success", sim.Fault{Endpoint: pulls, Status: 502, Body: `{"message":"Server Error"}`, Times: 2}, nil, ""},
		{"malformed JSON", sim.Fault{Endpoint: pulls, Status: 200, Body: `[{"number": 1,`}, func(err error) bool { return err != nil }, "decode /repos/acme/api/pulls"},
		{"unexpected field type", sim.Fault{Endpoint: pulls, Status: 200, Body: `[{"number": "one", "updated_at": 5}]`}, func(err error) bool { return err != nil }, "decode /repos/acme/api/pulls"},
		{"404 on one repo: the others still sync", sim.Fault{Endpoint: "GET /repos/{o}/{r}/deployments", Status: 404, Body: `{"message":"Not Found"}`}, func(err error) bool { return err != nil }, "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.connector(func(c *Config) { c.Repos = []string{"acme/api", "acme/tools"} })
			st := newStore()
			e.sim.Recorder().Inject(tt.fault)
			err := e.sync(c, st, false)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("sync: %v", err)
				}
				if tt.fault.Status == 429 && !slices.ContainsFunc(e.sleeps, func(d time.Duration) bool { return d >= 3*time.Second }) {
					t.Fatalf("Retry-After: 3 not honoured; waits %v", e.sleeps)
				}
				pulls, _, _, _, _ := expected(e.sim)
				pulls = slices.DeleteFunc(pulls, func(id string) bool { return strings.HasPrefix(id, "acme/web#") })
				if got := st.ids(KindPull); len(got) != len(pulls) {
					t.Fatalf("%d pull records after the retry, want %d", len(got), len(pulls))
				}
				return
			}
			if !tt.wantErr(err) {
				t.Fatalf("err = %v", err)
			}
			if !strings.Contains(err.Error(), tt.check) || !strings.Contains(err.Error(), "acme-github") {
				t.Fatalf("error %q should name the connector and %q", err, tt.check)
			}
			if strings.Contains(err.Error(), "per_page") || strings.Contains(err.Error(), e.sim.Token()) {
				t.Fatalf("error %q leaks a query or the token", err)
			}
			if tt.check == "404" && len(st.ids(KindPull)) == 0 {
				t.Fatal("a 404 on one repository stopped the others")
			}
		})
	}
}

func TestBadCredentials(t *testing.T) {
	e := newEnv(t)
	c := e.connector(func(c *Config) { c.Token = "ghp_wrong" })
	err := e.sync(c, newStore(), false)
	if !errors.Is(err, httpclient.ErrCredentials) {
		t.Fatalf("err = %v, want ErrCredentials", err)
	}
	if strings.Contains(err.Error(), "ghp_wrong") {
		t.Fatalf("error leaks the token: %v", err)
	}
	// One attempt, not retried.
	if got := e.sim.Recorder().Total(); got != 1 {
		t.Fatalf("%d requests with bad credentials, want 1", got)
	}
}

func TestRateLimitBeyondMaxWait(t *testing.T) {
	e := newEnv(t)
	c := e.connector(nil)
	e.sim.SetRateLimit(0, simNow.Add(2*time.Hour))
	err := e.sync(c, newStore(), false)
	if !errors.Is(err, httpclient.ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
}

func TestEnterpriseBaseURL(t *testing.T) {
	e := newEnv(t)
	c := e.connector(func(c *Config) {
		c.BaseURL = e.srv.URL + "/api/v3" // no trailing slash: added, path kept
		c.Repos = []string{"acme/tools"}
	})
	st := newStore()
	must(t, e.sync(c, st, false))
	if len(st.ids(KindPull)) == 0 {
		t.Fatal("no pull requests through the /api/v3 root")
	}
}

func TestGitHubAppAuth(t *testing.T) {
	e := newEnv(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	path := filepath.Join(t.TempDir(), "app.pem")
	must(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600))
	e.sim.EnableApp(4242, 77, &key.PublicKey)
	c := e.connector(func(c *Config) {
		c.Token, c.AppID, c.InstallationID, c.PrivateKeyFile = "", 4242, 77, path
		c.Repos = []string{"acme/tools"}
	})
	st := newStore()
	must(t, e.sync(c, st, false))
	if len(st.ids(KindPull)) == 0 {
		t.Fatal("no records with app auth")
	}
	tokens := "POST /app/installations/{id}/access_tokens"
	if got := e.sim.Recorder().Count(tokens); got != 1 {
		t.Fatalf("%d token requests, want 1", got)
	}
	e.sim.Advance(30 * time.Minute)
	must(t, e.sync(c, st, false))
	if got := e.sim.Recorder().Count(tokens); got != 1 {
		t.Fatalf("token renewed while fresh: %d requests", got)
	}
	e.sim.Advance(25 * time.Minute) // 5 minutes before expiry
	must(t, e.sync(c, st, false))
	if got := e.sim.Recorder().Count(tokens); got != 2 {
		t.Fatalf("token not renewed before expiry: %d requests", got)
	}

	wrong := e.connector(func(c *Config) {
		c.Token, c.AppID, c.InstallationID, c.PrivateKeyFile = "", 4242, 78, path
	})
	if err := e.sync(wrong, newStore(), false); !errors.Is(err, httpclient.ErrCredentials) {
		t.Fatalf("unknown installation: %v, want ErrCredentials", err)
	}
}

func TestNewErrors(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.Repos = nil
	if _, err := New(cfg, connectors.Deps{}); err == nil {
		t.Fatal("New accepted an invalid config")
	}
	cfg = e.config()
	cfg.Token, cfg.AppID, cfg.InstallationID, cfg.PrivateKeyFile = "", 1, 2, filepath.Join(t.TempDir(), "missing.pem")
	if _, err := New(cfg, connectors.Deps{}); err == nil || !strings.Contains(err.Error(), "private_key_file") {
		t.Fatalf("New with a missing key file: %v", err)
	}
}

// TestIssuesListingNotSortedAsAsked serves the labelled issues in GitHub's
// default order (created, newest first) whatever sort and direction say,
// over more than one page: the walk must not restart at the newest
// updated_at of a page that is not in ascending order (it would skip every
// issue of the later pages) but page on, and store every labelled issue.
func TestIssuesListingNotSortedAsAsked(t *testing.T) {
	s := githubsim.New(sim.Acme(), simNow, 7)
	s.SetClock(func() time.Time { return simNow })
	for range 150 {
		s.Advance(time.Minute)
		if _, err := s.AddIssue("acme/api", []string{"bug"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Advance(time.Minute)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/issues") {
			q := r.URL.Query()
			q.Del("sort")
			q.Del("direction")
			r.URL.RawQuery = q.Encode()
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e := &env{t: t, sim: s, srv: srv}
	c := e.connector(apiRepoOnly)
	st := newStore()
	must(t, e.sync(c, st, false))
	horizon := s.Now().Add(-30 * 24 * time.Hour)
	var want []string
	for _, is := range s.Issues("acme/api") {
		if slices.Contains(is.Labels, "bug") || slices.Contains(is.Labels, "incident") {
			if !is.UpdatedAt.Before(horizon) {
				want = append(want, fmt.Sprintf("acme/api#%d", is.Number))
			}
		}
	}
	sort.Strings(want)
	if got := st.ids(KindIssue); !reflect.DeepEqual(got, want) {
		t.Fatalf("%d issues stored, want %d", len(got), len(want))
	}
}

// TestLateSuccessKeepsNewestPreviousSuccess resolves a pending deployment
// after a newer deployment to the same environment succeeded: the next
// success must be compared with the newest success (whose commits are
// already counted), not with the older deployment that succeeded late,
// which would count the newer one's commits a second time.
func TestLateSuccessKeepsNewestPreviousSuccess(t *testing.T) {
	e := newEnv(t)
	c := e.connector(apiRepoOnly)
	st := newStore()
	must(t, e.sync(c, st, false))
	deps := e.sim.Deployments("acme/api", "production")
	late := deps[len(deps)-1]
	if late.Outcome != "" {
		t.Fatalf("the simulator's latest production deployment should be in progress, is %q", late.Outcome)
	}
	land := func() { // a change lands on the default branch
		t.Helper()
		n, err := e.sim.OpenPull("acme/api", "alice-gh", false)
		must(t, err)
		e.sim.Advance(time.Hour)
		must(t, e.sim.MergePull("acme/api", n))
		e.sim.Advance(time.Hour)
	}
	land()
	newer, err := e.sim.Deploy("acme/api", "production", "success")
	must(t, err)
	e.sim.Advance(time.Hour)
	must(t, e.sync(c, st, false))
	must(t, e.sim.SetDeploymentStatus("acme/api", late.ID, "success"))
	land()
	next, err := e.sim.Deploy("acme/api", "production", "success")
	must(t, err)
	e.sim.Advance(time.Hour)
	must(t, e.sync(c, st, false))
	read := func(id int64) deploymentRecord {
		t.Helper()
		rec, ok := st.records[fmt.Sprintf("%s|acme/api/deployments/%d", KindDeployment, id)]
		if !ok {
			t.Fatalf("deployment %d not stored", id)
		}
		var d deploymentRecord
		must(t, json.Unmarshal(rec.Data, &d))
		return d
	}
	if l := read(late.ID); l.Outcome != outcomeSuccess {
		t.Fatalf("late deployment outcome %q, want success", l.Outcome)
	}
	if l, n := read(late.ID), read(newer); l.SHA == n.SHA {
		t.Fatalf("late and newer deployments ship the same sha %s", l.SHA)
	}
	if n, x := read(newer), read(next); x.PreviousSHA != n.SHA || n.SHA == x.SHA {
		t.Fatalf("next success compared with %s, want the newest previous success %s", x.PreviousSHA, n.SHA)
	}
}

// TestListingsNotNewestFirst serves the pull request and deployment
// listings oldest first, in pages of 10 (as an upstream that ignores sort
// and direction, or lists deployments in creation order, would): a walk
// must not stop at the first item past its stop point when the listing
// shows itself out of order, but read it to the end and store the same
// records as a walk over the listing in the order asked for.
func TestListingsNotNewestFirst(t *testing.T) {
	sorted := newEnv(t)
	want := newStore()
	must(t, sorted.sync(sorted.connector(apiRepoOnly), want, false))

	s := githubsim.New(sim.Acme(), simNow, 7)
	s.SetClock(func() time.Time { return simNow })
	const per = 10
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if !(strings.HasSuffix(p, "/pulls") && r.URL.Query().Get("state") == "all") && !strings.HasSuffix(p, "/deployments") {
			s.ServeHTTP(w, r)
			return
		}
		// The whole listing, in the order asked for, then reversed.
		var all []json.RawMessage
		for page := 1; ; page++ {
			req := r.Clone(r.Context())
			q := req.URL.Query()
			q.Set("per_page", "100")
			q.Set("page", fmt.Sprint(page))
			req.URL.RawQuery = q.Encode()
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			var list []json.RawMessage
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil {
				t.Errorf("%s: %d %s", p, rec.Code, rec.Body.Bytes())
				return
			}
			all = append(all, list...)
			if !strings.Contains(rec.Header().Get("Link"), `rel="next"`) {
				break
			}
		}
		slices.Reverse(all)
		page := 1
		fmt.Sscan(r.URL.Query().Get("page"), &page)
		lo, hi := min((page-1)*per, len(all)), min(page*per, len(all))
		if hi < len(all) {
			q := r.URL.Query()
			q.Set("page", fmt.Sprint(page+1))
			w.Header().Set("Link", fmt.Sprintf(`<http://%s%s?%s>; rel="next"`, r.Host, p, q.Encode()))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(all[lo:hi])
	}))
	t.Cleanup(srv.Close)
	e := &env{t: t, sim: s, srv: srv}
	st := newStore()
	must(t, e.sync(e.connector(apiRepoOnly), st, false))
	for _, kind := range []string{KindPull, KindDeployment} {
		got, exp := st.ids(kind), want.ids(kind)
		if len(exp) == 0 {
			t.Fatalf("no %s record in the sorted sync", kind)
		}
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("%s records: %d stored, want %d (as from the sorted listing)", kind, len(got), len(exp))
		}
	}
	// A second sync over the unsorted listings loses nothing.
	must(t, e.sync(e.connector(apiRepoOnly), st, false))
	for _, kind := range []string{KindPull, KindDeployment} {
		if got, exp := st.ids(kind), want.ids(kind); !reflect.DeepEqual(got, exp) {
			t.Errorf("second sync: %s records: %d stored, want %d", kind, len(got), len(exp))
		}
	}
}

// TestListingsIgnoringFilters: an upstream that ignores state=open on the
// open pulls listing and environment= on deployments (answering every pull
// request and every deployment) stores no closed pull request as open and
// no deployment of another environment.
func TestListingsIgnoringFilters(t *testing.T) {
	sorted := newEnv(t)
	want := newStore()
	must(t, sorted.sync(sorted.connector(apiRepoOnly), want, false))

	s := githubsim.New(sim.Acme(), simNow, 7)
	s.SetClock(func() time.Time { return simNow })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch p := r.URL.Path; {
		case strings.HasSuffix(p, "/pulls") && q.Get("state") == "open":
			q.Set("state", "all")
			q.Set("sort", "updated")
			q.Set("direction", "desc")
		case strings.HasSuffix(p, "/deployments"):
			q.Del("environment")
		}
		r.URL.RawQuery = q.Encode()
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e := &env{t: t, sim: s, srv: srv}
	st := newStore()
	must(t, e.sync(e.connector(apiRepoOnly), st, false))
	for _, kind := range []string{KindOpenPull, KindDeployment} {
		got, exp := st.ids(kind), want.ids(kind)
		if len(exp) == 0 {
			t.Fatalf("no %s record in the filtered sync", kind)
		}
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("%s records: %d stored, want %d (as from the filtered listing)\n got %v\nwant %v", kind, len(got), len(exp), got, exp)
		}
	}
}
