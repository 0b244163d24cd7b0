package jira

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
	"github.com/kpid/kpid/internal/sim/jirasim"
	"github.com/kpid/kpid/pipeline"
)

// memStore mimics the store: cursors by stream, records by kind and id,
// each page applied atomically when emit returns nil.
type memStore struct {
	mu      sync.Mutex
	cursors map[string][]byte
	records map[string]connectors.Record // kind "/" id
	pages   []connectors.Page
	emitted map[string]int // records committed per kind, overlaps included
	calls   int
	failAt  int // the failAt-th emit fails (crash before commit)
	after   func(connectors.Page)
}

func newMemStore() *memStore {
	return &memStore{cursors: map[string][]byte{}, records: map[string]connectors.Record{}, emitted: map[string]int{}}
}

func (m *memStore) Cursor(stream string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursors[stream], nil
}

func (m *memStore) emit(_ context.Context, p connectors.Page) error {
	m.mu.Lock()
	m.calls++
	if m.failAt > 0 && m.calls == m.failAt {
		m.mu.Unlock()
		return errors.New("disk on fire")
	}
	for _, r := range p.Records {
		k := r.Kind + "/" + r.ID
		if r.Deleted {
			delete(m.records, k)
			continue
		}
		m.records[k] = r
		m.emitted[r.Kind]++
	}
	if p.Prune != nil {
		for k, r := range m.records {
			if r.Kind != p.Prune.Kind || !strings.HasPrefix(r.ID, p.Prune.Prefix) {
				continue
			}
			if _, keep := p.Prune.Keep[r.ID]; !keep {
				delete(m.records, k)
			}
		}
	}
	if p.Cursor != nil {
		m.cursors[p.Stream] = append([]byte(nil), p.Cursor...)
	}
	m.pages = append(m.pages, p)
	after := m.after
	m.mu.Unlock()
	if after != nil {
		after(p)
	}
	return nil
}

func (m *memStore) kind(kind string) map[string]connectors.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]connectors.Record{}
	for _, r := range m.records {
		if r.Kind == kind {
			out[r.ID] = r
		}
	}
	return out
}

// simNow is the simulated site's now in every test.
var simNow = time.Date(2025, 6, 2, 15, 4, 5, 0, time.UTC)

func testDeps() connectors.Deps {
	return connectors.Deps{
		Metrics: httpclient.NewMetrics(prometheus.NewRegistry()),
		Logger:  slog.New(slog.DiscardHandler),
		Now:     func() time.Time { return simNow },
		Sleep:   func(context.Context, time.Duration) error { return nil },
	}
}

type env struct {
	t       *testing.T
	project string // the JQL's only project; "" all
	srv     *jirasim.Server
	conn    *Connector
	cfg     *Config
	store   *memStore
	slept   []time.Duration
	mu      sync.Mutex
}

// newEnv starts a simulator of the flavor and a connector reading it. The
// simulator's clock moves only with Advance (and the connector's sleeps).
func newEnv(t *testing.T, flavor string, edit func(*Config)) *env {
	t.Helper()
	var srv *jirasim.Server
	if flavor == FlavorDataCenter {
		srv = jirasim.NewDataCenter(sim.Acme(), simNow, 7)
	} else {
		srv = jirasim.New(sim.Acme(), simNow, 7)
	}
	wall := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	srv.SetClock(func() time.Time { return wall })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	cfg := DefaultConfig()
	cfg.Name, cfg.Schedule, cfg.BaseURL, cfg.Flavor = "acme-jira", "@every 15m", hs.URL, flavor
	cfg.Token = config.Secret(srv.Token())
	if flavor == FlavorCloud {
		cfg.Email = srv.Email()
	}
	cfg.JQL = "project in (ENG, OPS)"
	cfg.PointsField = "Story Points"
	cfg.Teams = map[string]string{"ENG": "platform"}
	if edit != nil {
		edit(cfg)
	}
	e := &env{t: t, srv: srv, cfg: cfg, store: newMemStore()}
	if p, ok := strings.CutPrefix(cfg.JQL, "project = "); ok {
		e.project = p
	}
	deps := testDeps()
	deps.Now = srv.Now
	deps.Sleep = func(_ context.Context, d time.Duration) error {
		e.mu.Lock()
		e.slept = append(e.slept, d)
		e.mu.Unlock()
		srv.Advance(d)
		return nil
	}
	conn, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e.conn = conn
	return e
}

// only limits a test to one project (fewer issues: a faster test).
func only(project string) func(*Config) {
	return func(c *Config) { c.JQL = "project = " + project }
}

// upstream returns the simulator's issues the JQL selects.
func (e *env) upstream() []jirasim.IssueInfo {
	var out []jirasim.IssueInfo
	for _, i := range e.srv.Issues() {
		if e.project == "" || i.Project == e.project {
			out = append(out, i)
		}
	}
	return out
}

func (e *env) sync(full bool) error {
	return e.conn.Fetch(context.Background(), e.store, full, e.store.emit)
}

func (e *env) mustSync(full bool) {
	e.t.Helper()
	if err := e.sync(full); err != nil {
		e.t.Fatalf("sync: %v", err)
	}
}

// counts returns the requests per endpoint since the last reset, and
// resets.
func (e *env) counts() map[string]int {
	c := e.srv.Recorder().Counts()
	e.srv.Recorder().Reset()
	return c
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// expectedFullSync is the request lower bound of a full sync (SPEC §9 P4):
// ⌈N/100⌉ issue search pages, ⌈WIP/100⌉ (at least 1) listing pages, and
// bulk changelog requests only for pages holding truncated issues.
func expectedFullSync(issues []jirasim.IssueInfo) (search, bulk, wip int) {
	visible := make([]jirasim.IssueInfo, 0, len(issues))
	for _, i := range issues {
		if !i.Hidden {
			visible = append(visible, i)
		}
	}
	sort.Slice(visible, func(a, b int) bool {
		if !visible[a].Updated.Equal(visible[b].Updated) {
			return visible[a].Updated.Before(visible[b].Updated)
		}
		return len(visible[a].ID) < len(visible[b].ID) || len(visible[a].ID) == len(visible[b].ID) && visible[a].ID < visible[b].ID
	})
	for start := 0; start < len(visible); start += 100 {
		histories, any := 0, false
		for _, i := range visible[start:min(start+100, len(visible))] {
			if i.Truncated() {
				any = true
				histories += i.StatusHistories
			}
		}
		if any {
			bulk += max(1, ceilDiv(histories, 1000))
		}
	}
	for _, i := range visible {
		if i.StatusCategory == "indeterminate" {
			wip++
		}
	}
	return max(1, ceilDiv(len(visible), 100)), bulk, max(1, ceilDiv(wip, 100))
}

func TestFullSyncCloud(t *testing.T) {
	t.Parallel()
	e := newEnv(t, FlavorCloud, nil)
	issues := e.upstream()
	e.mustSync(true)

	search, bulk, wipPages := expectedFullSync(issues)
	if bulk == 0 {
		t.Fatal("the simulator has no truncated changelog: the test proves nothing")
	}
	want := map[string]int{
		jirasim.EndpointSearchJQL:             search + wipPages,
		jirasim.EndpointBulkChangelog:         bulk,
		jirasim.EndpointStatus(jirasim.Cloud): 1,
		jirasim.EndpointField(jirasim.Cloud):  1,
		jirasim.EndpointMyself(jirasim.Cloud): 1,
	}
	got := e.counts()
	for ep, n := range want {
		if got[ep] != n {
			t.Errorf("%s: %d requests, want %d (all: %v)", ep, got[ep], n, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("requests to other endpoints: %v", got)
	}
	checkRecords(t, e, issues)
	checkEveryMeasure(t, e)
}

// checkEveryMeasure checks that the simulated site gives a sample of
// every jira measure.
func checkEveryMeasure(t *testing.T, e *env) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range samplesOf(t, e) {
		seen[s.Measure] = true
		if _, ok := pipeline.LookupMeasure(s.Measure); !ok {
			t.Errorf("unknown measure %s", s.Measure)
		}
	}
	for _, m := range pipeline.Measures() {
		if m.Source == "jira" && !seen[m.Name] {
			t.Errorf("no %s sample from the simulated site", m.Name)
		}
	}
}

// checkRecords compares the stored records with the simulator's issues.
func checkRecords(t *testing.T, e *env, issues []jirasim.IssueInfo) {
	t.Helper()
	recs := e.store.kind(KindIssue)
	if len(recs) != len(issues) {
		t.Fatalf("%d issue records, want %d", len(recs), len(issues))
	}
	done, wip, points, truncated := 0, 0, 0, 0
	for _, info := range issues {
		actor := info.Assignee
		if e.cfg.Flavor == FlavorDataCenter {
			actor = info.AssigneeName
		}
		rec, ok := recs[info.ID]
		if !ok {
			t.Fatalf("no record of %s", info.Key)
		}
		d := decodeRecord(t, rec.Data)
		if d.Key != info.Key || d.Project != info.Project || d.Assignee != actor || !d.Created.Equal(info.Created) || !rec.Updated.Equal(info.Updated) {
			t.Errorf("%s: record key %s project %s assignee %s created %v updated %v; upstream %+v", info.Key, d.Key, d.Project, d.Assignee, d.Created, rec.Updated, info)
		}
		if len(d.Changes) != info.StatusHistories {
			t.Errorf("%s: %d status changes, the changelog has %d (truncated: %v)", info.Key, len(d.Changes), info.StatusHistories, info.Truncated())
		}
		if info.Truncated() {
			truncated++
		}
		ss, err := e.conn.Normalize(rec)
		if err != nil {
			t.Fatal(err)
		}
		m := byMeasure(t, ss)
		if (info.StatusCategory == "done") != (len(ss) > 0) {
			t.Errorf("%s in category %s: %d samples", info.Key, info.StatusCategory, len(ss))
		}
		if s, ok := m[MeasureIssuesDone]; ok {
			done++
			if s.Value != 0 && s.Value != 1 && s.Value != 2 && s.Value != 3 && s.Value != 5 && s.Value != 8 {
				t.Errorf("%s: points %v", info.Key, s.Value)
			}
			if s.Value > 1 {
				points++
			}
			if s.Actor != actor || s.TeamKey != info.Project || !s.Time.Equal(info.Resolved) {
				t.Errorf("%s: sample %+v", info.Key, s)
			}
		}
		if info.StatusCategory == "indeterminate" {
			wip++
		}
	}
	if done == 0 || points == 0 || truncated == 0 {
		t.Errorf("done %d, with points %d, truncated %d: the data proves little", done, points, truncated)
	}
	open := e.store.kind(KindOpenIssue)
	if len(open) != wip || wip == 0 {
		t.Errorf("%d open issues stored, %d in progress", len(open), wip)
	}
	for _, rec := range open {
		ss, err := e.conn.Normalize(rec)
		if err != nil || len(ss) != 1 || ss[0].Measure != MeasureWIP || !ss[0].Time.Equal(e.srv.Now()) {
			t.Errorf("open issue %s: %+v %v", rec.ID, ss, err)
		}
	}
}

func TestNothingChangedSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t, FlavorCloud, only("OPS"))
	e.mustSync(false)
	e.counts()
	before := len(e.store.pages)
	e.srv.Advance(15 * time.Minute)
	e.mustSync(false)
	got := e.counts()
	// one request per stream: the issues search and the WIP listing; the
	// look-ups are cached for an hour
	if got[jirasim.EndpointSearchJQL] != 2 || len(got) != 1 {
		t.Errorf("requests of a sync with nothing new: %v, want 2 searches", got)
	}
	for _, p := range e.store.pages[before:] {
		if p.Stream == StreamIssues && len(p.Records) > 0 {
			t.Errorf("issues page with %d records", len(p.Records))
		}
	}
	// after an hour the look-ups are refreshed, once each
	e.srv.Advance(time.Hour)
	e.mustSync(false)
	got = e.counts()
	for _, ep := range []string{jirasim.EndpointStatus(jirasim.Cloud), jirasim.EndpointField(jirasim.Cloud), jirasim.EndpointMyself(jirasim.Cloud)} {
		if got[ep] != 1 {
			t.Errorf("%s: %d requests after an hour, want 1", ep, got[ep])
		}
	}
	if got[jirasim.EndpointSearchJQL] != 2 {
		t.Errorf("searches: %d", got[jirasim.EndpointSearchJQL])
	}
}

func TestIncrementalSync(t *testing.T) {
	t.Parallel()
	for _, flavor := range []string{FlavorCloud, FlavorDataCenter} {
		t.Run(flavor, func(t *testing.T) {
			e := newEnv(t, flavor, only("OPS"))
			e.mustSync(false)
			e.srv.Advance(10 * time.Minute)
			key := e.srv.AddIssue("OPS", "Bug", "5b10a2844c20165700ede21a")
			var open string
			for _, i := range e.upstream() {
				if i.StatusCategory == "indeterminate" {
					open = i.Key
					break
				}
			}
			e.srv.Advance(time.Minute)
			if err := e.srv.Transition(open, "Done"); err != nil {
				t.Fatal(err)
			}
			emitted := e.store.emitted[KindIssue]
			e.mustSync(false)
			if n := e.store.emitted[KindIssue] - emitted; n != 2 {
				t.Errorf("%d issue records emitted, want the 2 changed", n)
			}
			checkRecords(t, e, e.upstream())
			var rec connectors.Record
			for _, r := range e.store.kind(KindIssue) {
				if decodeRecord(t, r.Data).Key == open {
					rec = r
				}
			}
			ss, _ := e.conn.Normalize(rec)
			if m := byMeasure(t, ss); m[MeasureIssuesDone].Time.IsZero() {
				t.Errorf("%s done upstream, samples %+v", open, ss)
			}
			if _, ok := e.store.kind(KindOpenIssue)[rec.ID]; ok {
				t.Errorf("%s is done but still in the WIP snapshot", open)
			}
			_ = key
		})
	}
}

func TestOverlapReadsIssuesTheIndexShowedLate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, FlavorCloud, only("OPS"))
	e.mustSync(false)
	issues := e.upstream()
	late, other := issues[0].Key, issues[1].Key
	e.srv.Advance(20 * time.Minute)
	if err := e.srv.Edit(late); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Hide(late); err != nil { // not yet in the search index
		t.Fatal(err)
	}
	e.srv.Advance(2 * time.Minute)
	if err := e.srv.Edit(other); err != nil {
		t.Fatal(err)
	}
	emitted := e.store.emitted[KindIssue]
	e.mustSync(false)
	if n := e.store.emitted[KindIssue] - emitted; n != 1 {
		t.Fatalf("%d records, want 1 (the visible change)", n)
	}
	// the index catches up: the late issue is older than the cursor, but
	// within the overlap
	if err := e.srv.Unhide(late); err != nil {
		t.Fatal(err)
	}
	e.srv.Advance(time.Minute)
	emitted = e.store.emitted[KindIssue]
	e.mustSync(false)
	if n := e.store.emitted[KindIssue] - emitted; n != 1 {
		t.Fatalf("%d records, want 1 (the late one; the other deduped)", n)
	}
	checkRecords(t, e, e.upstream())
}

func TestCrashBetweenPagesResumes(t *testing.T) {
	t.Parallel()
	for _, flavor := range []string{FlavorCloud, FlavorDataCenter} {
		t.Run(flavor, func(t *testing.T) {
			ref := newEnv(t, flavor, only("ENG"))
			ref.mustSync(false)

			e := newEnv(t, flavor, only("ENG"))
			// emits: 1 the reconcile mark, 2 the first issue page, 3 fails
			e.store.failAt = 3
			err := e.sync(false)
			if err == nil || !strings.Contains(err.Error(), "disk on fire") {
				t.Fatalf("sync with a failing commit: %v", err)
			}
			committed := e.store.emitted[KindIssue]
			if committed != 100 {
				t.Fatalf("%d records committed before the crash, want 100", committed)
			}
			e.store.failAt = 0
			e.mustSync(false)
			if n := e.store.emitted[KindIssue]; n != len(ref.store.kind(KindIssue)) {
				t.Errorf("%d issue records emitted over both runs, want each of the %d once", n, len(ref.store.kind(KindIssue)))
			}
			got, want := e.store.kind(KindIssue), ref.store.kind(KindIssue)
			if len(got) != len(want) {
				t.Fatalf("%d records, want %d", len(got), len(want))
			}
			for id, r := range want {
				if string(got[id].Data) != string(r.Data) {
					t.Errorf("%s differs:\n%s\n%s", id, got[id].Data, r.Data)
				}
			}
			if len(e.store.kind(KindOpenIssue)) != len(ref.store.kind(KindOpenIssue)) {
				t.Errorf("open issues %d, want %d", len(e.store.kind(KindOpenIssue)), len(ref.store.kind(KindOpenIssue)))
			}
		})
	}
}

func TestFullSyncDataCenter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, FlavorDataCenter, nil)
	issues := e.upstream()
	e.mustSync(true)
	search, _, wipPages := expectedFullSync(issues)
	truncated := 0
	for _, i := range issues {
		if i.Truncated() {
			truncated += ceilDiv(i.Histories, 100)
		}
	}
	got := e.counts()
	if got[jirasim.EndpointDCSearch] != search+wipPages || got[jirasim.EndpointDCChangelog] != truncated || truncated == 0 {
		t.Errorf("requests %v, want %d searches and %d changelog pages", got, search+wipPages, truncated)
	}
	if got[jirasim.EndpointBulkChangelog] != 0 || got[jirasim.EndpointSearchJQL] != 0 {
		t.Errorf("cloud endpoints used: %v", got)
	}
	checkRecords(t, e, issues)
}

// An issue updated while a Data Center walk runs moves to the end of the
// order; with plain startAt paging the next page would skip one issue.
func TestDataCenterWalkSurvivesUpdatesDuringTheWalk(t *testing.T) {
	t.Parallel()
	e := newEnv(t, FlavorDataCenter, only("ENG"))
	issues := e.upstream()
	sort.Slice(issues, func(a, b int) bool { return issues[a].Updated.Before(issues[b].Updated) })
	edited := false
	e.store.after = func(p connectors.Page) {
		if p.Stream == StreamIssues && !edited {
			edited = true
			e.srv.Advance(time.Second)
			_ = e.srv.Edit(issues[10].Key) // read on page 1, moves to the end
		}
	}
	e.mustSync(false)
	checkRecords(t, e, e.upstream())
}

func Test429RetryAfter(t *testing.T) {
	t.Parallel()
	for _, flavor := range []string{FlavorCloud, FlavorDataCenter} {
		t.Run(flavor, func(t *testing.T) {
			e := newEnv(t, flavor, only("OPS"))
			e.srv.Throttle(1, 7*time.Second)
			e.mustSync(false)
			if !sleptAtLeast(e, 7*time.Second) {
				t.Errorf("slept %v, want a wait of Retry-After (7s)", e.slept)
			}
			checkRecords(t, e, e.upstream())
		})
	}
}

func sleptAtLeast(e *env, d time.Duration) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.slept {
		if s >= d {
			return true
		}
	}
	return false
}

func TestServerErrorThenSuccess(t *testing.T) {
	t.Parallel()
	for _, flavor := range []string{FlavorCloud, FlavorDataCenter} {
		t.Run(flavor, func(t *testing.T) {
			e := newEnv(t, flavor, only("OPS"))
			search := jirasim.EndpointSearch(e.srv.Flavor())
			e.srv.Recorder().Inject(sim.Fault{Endpoint: search, Status: 503, Body: `{"errorMessages":["busy"]}`, Header: http.Header{"Retry-After": {"11"}}})
			e.srv.Recorder().Inject(sim.Fault{Endpoint: search, Status: 502, Times: 1})
			e.srv.Recorder().Inject(sim.Fault{Endpoint: jirasim.EndpointStatus(e.srv.Flavor()), Status: 500, Times: 1})
			e.mustSync(false)
			if !sleptAtLeast(e, 11*time.Second) {
				t.Errorf("slept %v, want the 503's Retry-After (11s)", e.slept)
			}
			checkRecords(t, e, e.upstream())
		})
	}
}

func TestMalformedJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		flavor, endpoint, path string
	}{
		{FlavorCloud, jirasim.EndpointSearchJQL, "POST /rest/api/3/search/jql"},
		{FlavorCloud, jirasim.EndpointBulkChangelog, "POST /rest/api/3/changelog/bulkfetch"},
		{FlavorCloud, jirasim.EndpointStatus(jirasim.Cloud), "GET /rest/api/3/status"},
		{FlavorDataCenter, jirasim.EndpointDCSearch, "POST /rest/api/2/search"},
		{FlavorDataCenter, jirasim.EndpointDCChangelog, "GET /rest/api/2/issue/"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			e := newEnv(t, tt.flavor, nil)
			e.srv.Recorder().Inject(sim.Fault{Endpoint: tt.endpoint, Status: 200, Body: `{"issues": [{"id": 12`})
			err := e.sync(false)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range []string{"acme-jira", tt.path, "decode"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "?") || strings.Contains(err.Error(), e.srv.Token()) {
				t.Errorf("error shows a query or the token: %v", err)
			}
		})
	}
}

func TestUnexpectedFieldTypeIsAnError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, FlavorCloud, nil)
	e.srv.Recorder().Inject(sim.Fault{Endpoint: jirasim.EndpointSearchJQL, Status: 200,
		Body: `{"issues":[{"id":"1","key":"ENG-1","fields":{"status":"Done","updated":"2025-06-01T10:00:00.000+0000","created":"2025-06-01T10:00:00.000+0000"}}],"isLast":true}`})
	err := e.sync(false)
	if err == nil || !strings.Contains(err.Error(), "ENG-1") || !strings.Contains(err.Error(), "field status") {
		t.Fatalf("err = %v", err)
	}
}

func TestCredentialsRejected(t *testing.T) {
	t.Parallel()
	for _, flavor := range []string{FlavorCloud, FlavorDataCenter} {
		t.Run(flavor, func(t *testing.T) {
			e := newEnv(t, flavor, nil)
			e.srv.SetToken("rotated")
			err := e.sync(false)
			if !errors.Is(err, httpclient.ErrCredentials) {
				t.Fatalf("err = %v, want ErrCredentials", err)
			}
			if strings.Contains(err.Error(), "jira-sim-token") {
				t.Errorf("error shows the token: %v", err)
			}
			if n := e.srv.Recorder().Total(); n != 1 {
				t.Errorf("%d requests, want 1 (no retry)", n)
			}
		})
	}
}

func TestOldSearchEndpointGone(t *testing.T) {
	t.Parallel()
	// a Jira Cloud site configured as Data Center meets the removed
	// /rest/api/2/search
	e := newEnv(t, FlavorCloud, nil)
	cfg := *e.cfg
	cfg.Flavor, cfg.Email = FlavorDataCenter, ""
	deps := testDeps()
	deps.Now = e.srv.Now
	conn, err := New(&cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	// Cloud answers bearer tokens 401: give the site a basic-auth-less
	// check by faking the credentials problem away
	e.srv.Recorder().Inject(sim.Fault{Endpoint: "GET /rest/api/2/status", Status: 200, Body: `[]`})
	e.srv.Recorder().Inject(sim.Fault{Endpoint: "GET /rest/api/2/field", Status: 200, Body: `[{"id":"customfield_10016","name":"Story Points","schema":{"type":"number"}}]`})
	e.srv.Recorder().Inject(sim.Fault{Endpoint: "GET /rest/api/2/myself", Status: 200, Body: `{"timeZone":"UTC"}`})
	e.srv.Recorder().Inject(sim.Fault{Endpoint: "POST /rest/api/2/search", Status: 410,
		Body: `{"errorMessages":["The requested API has been removed. Please use the newer, enhanced search-based API instead. Deprecation details are available at https://developer.atlassian.com/changelog/#CHANGE-2046."],"errors":{}}`})
	err = conn.Fetch(context.Background(), newMemStore(), false, newMemStore().emit)
	if !errors.Is(err, ErrSearchGone) {
		t.Fatalf("err = %v, want ErrSearchGone", err)
	}
	for _, want := range []string{"410", "/rest/api/2/search", "flavor: cloud", "CHANGE-2046"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestSimulatorOldSearchAnswers410(t *testing.T) {
	t.Parallel()
	e := newEnv(t, FlavorCloud, nil)
	var res []apiIssue
	err := e.conn.client.do(context.Background(), "POST", "/rest/api/3/search", nil, map[string]string{"jql": "project = ENG"}, &res)
	if !errors.Is(err, ErrSearchGone) || !strings.Contains(err.Error(), "/rest/api/3/search/jql") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfiguredStatusesListWIPByName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, FlavorCloud, func(c *Config) {
		c.JQL = "project = OPS"
		c.InProgressStatuses = []string{"In Review"}
		c.Timezone = "UTC"
		c.PointsField = ""
	})
	e.mustSync(false)
	got := e.counts()
	// /myself is read even with a timezone: JQL times are in the user's zone
	if got[jirasim.EndpointMyself(jirasim.Cloud)] != 1 || got[jirasim.EndpointField(jirasim.Cloud)] != 0 {
		t.Errorf("look-ups: %v", got)
	}
	want := 0
	for _, i := range e.upstream() {
		if i.StatusID == "10001" {
			want++
		}
	}
	if n := len(e.store.kind(KindOpenIssue)); n != want || want == 0 {
		t.Errorf("%d open issues, %d in review", n, want)
	}
	// every done issue weighs 1 without a points field
	for _, rec := range e.store.kind(KindIssue) {
		ss, _ := e.conn.Normalize(rec)
		if s, ok := byMeasure(t, ss)[MeasureIssuesDone]; ok && s.Value != 1 {
			t.Fatalf("issues done = %v", s.Value)
		}
	}
}

// Jira reads JQL times in the API user's zone (/myself), not in the
// timezone option: a configured zone east of the user's must not move the
// incremental bound past changes not read yet.
func TestTimezoneOptionDoesNotShiftJQLTimes(t *testing.T) {
	t.Parallel()
	for _, flavor := range []string{FlavorCloud, FlavorDataCenter} {
		t.Run(flavor, func(t *testing.T) {
			e := newEnv(t, flavor, func(c *Config) {
				c.JQL = "project = OPS"
				c.Timezone = "Asia/Tokyo" // the simulated user is in Los Angeles
			})
			e.mustSync(false)
			e.srv.Advance(10 * time.Minute)
			var open string
			for _, i := range e.upstream() {
				if i.StatusCategory == "indeterminate" {
					open = i.Key
					break
				}
			}
			if err := e.srv.Transition(open, "Done"); err != nil {
				t.Fatal(err)
			}
			emitted := e.store.emitted[KindIssue]
			e.mustSync(false)
			if n := e.store.emitted[KindIssue] - emitted; n != 1 {
				t.Errorf("%d issue records emitted, want the 1 changed", n)
			}
			checkRecords(t, e, e.upstream())
			// due dates are still read in the timezone option
			for _, r := range e.store.kind(KindIssue) {
				if z := decodeRecord(t, r.Data).Zone; z != "Asia/Tokyo" {
					t.Fatalf("record zone %q", z)
				}
			}
		})
	}
}

// With a timezone option, a /myself that cannot be read is not fatal:
// JQL times are then written in the option's zone.
func TestTimezoneOptionWithoutMyself(t *testing.T) {
	t.Parallel()
	e := newEnv(t, FlavorCloud, func(c *Config) {
		c.JQL = "project = OPS"
		c.Timezone = jirasim.UserTimeZone
	})
	e.srv.Recorder().Inject(sim.Fault{Endpoint: jirasim.EndpointMyself(jirasim.Cloud), Status: 404, Body: `{"errorMessages":["gone"]}`})
	e.mustSync(false)
	checkRecords(t, e, e.upstream())
}

// TestMyselfUnavailable: a site that does not serve /myself (404) is
// read with JQL times in UTC-12 (never past the cursor) when no timezone
// is set, while refused
// credentials on /myself end the run as a credentials problem.
func TestMyselfUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, FlavorCloud, func(c *Config) { c.JQL = "project = OPS" })
	e.srv.Recorder().Inject(sim.Fault{Endpoint: jirasim.EndpointMyself(jirasim.Cloud), Status: 404, Body: `{"errorMessages":["gone"]}`})
	e.mustSync(false)
	checkRecords(t, e, e.upstream())

	e = newEnv(t, FlavorCloud, nil)
	e.srv.Recorder().Inject(sim.Fault{Endpoint: jirasim.EndpointMyself(jirasim.Cloud), Status: 401, Body: `{}`})
	if err := e.sync(false); !errors.Is(err, httpclient.ErrCredentials) {
		t.Fatalf("sync with /myself refusing the token: err = %v, want a credentials error", err)
	}
}

func TestResolveIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		flavor, email, want string
		wantErr             bool
	}{
		{FlavorCloud, "alice@acme.example", "5b10a2844c20165700ede21a", false},
		{FlavorCloud, "ALICE@acme.example", "5b10a2844c20165700ede21a", false},
		{FlavorCloud, "nobody@acme.example", "", true},
		{FlavorDataCenter, "dave@acme.example", "dave", false},
	}
	for _, tt := range tests {
		t.Run(tt.flavor+" "+tt.email, func(t *testing.T) {
			e := newEnv(t, tt.flavor, nil)
			got, err := e.conn.ResolveIdentity(context.Background(), tt.email)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ResolveIdentity = %q, %v; want %q", got, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), tt.email) {
				t.Errorf("error repeats the email: %v", err)
			}
		})
	}
}

func TestPointsFieldNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, FlavorCloud, func(c *Config) { c.PointsField = "Effort" })
	err := e.sync(false)
	if err == nil || !strings.Contains(err.Error(), `"Effort"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestResolvePointsField(t *testing.T) {
	t.Parallel()
	fields := []apiField{
		{ID: "customfield_10016", Name: "Story Points"},
		{ID: "customfield_10028", Name: "Story point estimate"},
		{ID: "customfield_10030", Name: "Points", Schema: &struct {
			Type string `json:"type"`
		}{"string"}},
		{ID: "customfield_10031", Name: "Points", Schema: &struct {
			Type string `json:"type"`
		}{"number"}},
	}
	tests := []struct{ want, id string }{
		{"customfield_10028", "customfield_10028"},
		{"story points", "customfield_10016"},
		{"Points", "customfield_10031"},
	}
	for _, tt := range tests {
		if got, err := resolvePointsField(tt.want, fields); err != nil || got != tt.id {
			t.Errorf("resolvePointsField(%q) = %q, %v; want %q", tt.want, got, err, tt.id)
		}
	}
	if _, err := resolvePointsField("Effort", fields); err == nil {
		t.Error("no error for a missing field")
	}
}

func TestJQL(t *testing.T) {
	t.Parallel()
	la, _ := time.LoadLocation("America/Los_Angeles")
	from := time.Date(2025, 6, 2, 15, 4, 59, 0, time.UTC)
	tests := []struct{ got, want string }{
		{issuesJQL("project in (ENG, OPS)", from, la), "(project in (ENG, OPS)) AND updated >= '2025/06/02 08:04' ORDER BY updated ASC"},
		{issuesJQL("", from, time.UTC), "updated >= '2025/06/02 15:04' ORDER BY updated ASC"},
		{wipJQL(&Config{JQL: "project = ENG OR labels = x"}), `(project = ENG OR labels = x) AND statusCategory = "In Progress" ORDER BY key ASC`},
		{wipJQL(&Config{InProgressStatuses: []string{"Doing", `Say "hi"`}}), `status in ("Doing", "Say \"hi\"") ORDER BY key ASC`},
		{reconcileJQL(&Config{}), `created >= "1970-01-01" ORDER BY key ASC`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got  %s\nwant %s", tt.got, tt.want)
		}
	}
}

func TestCursorEncoding(t *testing.T) {
	t.Parallel()
	e := newEnv(t, FlavorCloud, only("OPS"))
	e.mustSync(false)
	var cur issuesCursor
	if err := json.Unmarshal(e.store.cursors[StreamIssues], &cur); err != nil {
		t.Fatal(err)
	}
	newest := time.Time{}
	for _, i := range e.upstream() {
		if i.Updated.After(newest) {
			newest = i.Updated
		}
	}
	if !cur.Since.Equal(newest) {
		t.Errorf("since = %v, want the newest updated %v", cur.Since, newest)
	}
	floor := newest.Add(-overlap).Truncate(time.Minute).UnixMilli()
	for id, ms := range cur.Seen {
		if ms < floor {
			t.Errorf("seen keeps %s outside the overlap", id)
		}
	}
	if len(cur.Seen) == 0 {
		t.Error("seen is empty")
	}
	// an unreadable cursor starts over at the lookback
	e.store.cursors[StreamIssues] = []byte("garbage")
	e.counts()
	e.mustSync(false)
	search, _, wip := expectedFullSync(e.upstream())
	if got := e.counts()[jirasim.EndpointSearchJQL]; got != search+wip {
		t.Errorf("%d searches after a bad cursor, want a full walk (%d)", got, search+wip)
	}
}

// samplesOf returns the samples of every stored record.
func samplesOf(t *testing.T, e *env) []pipeline.Sample {
	t.Helper()
	var out []pipeline.Sample
	for _, kind := range []string{KindIssue, KindOpenIssue} {
		for _, r := range e.store.kind(kind) {
			ss, err := e.conn.Normalize(r)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ss...)
		}
	}
	return out
}

// TestJQLZoneIsTheWesternmostCandidate: the incremental bound is written in
// whichever of the user's zone and the timezone option shows the earlier
// clock, so that Jira reading it in either never starts after the cursor.
func TestJQLZoneIsTheWesternmostCandidate(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	la, tokyo, berlin := load("America/Los_Angeles"), load("Asia/Tokyo"), load("Europe/Berlin")
	bound := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		locs []*time.Location
		want *time.Location
	}{
		{[]*time.Location{la, tokyo}, la},
		{[]*time.Location{tokyo, la}, la},
		{[]*time.Location{berlin}, berlin},
		{[]*time.Location{time.UTC, berlin}, time.UTC},
		{[]*time.Location{westernmost}, westernmost},
	} {
		lk := &lookups{jqlLocs: tt.locs}
		if got := lk.jqlLoc(bound); got != tt.want {
			t.Errorf("jqlLoc(%v) = %v, want %v", tt.locs, got, tt.want)
		}
		// Read in any candidate zone, the written bound is not after it.
		text := jqlTime(bound, lk.jqlLoc(bound))
		for _, loc := range tt.locs {
			read, err := time.ParseInLocation("2006/01/02 15:04", text, loc)
			if err != nil {
				t.Fatal(err)
			}
			if read.After(bound) {
				t.Errorf("%q read in %v is %v, after the bound %v", text, loc, read, bound)
			}
		}
	}
}
