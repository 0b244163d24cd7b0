package zendesk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	"github.com/kpid/kpid/internal/sim/zendesksim"
)

var simNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// fakeClock is the injected clock: Sleep moves it forward at once.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if d > 0 {
		f.t = f.t.Add(d)
	}
	f.slept = append(f.slept, d)
	return nil
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func (f *fakeClock) Slept() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.slept...)
}

func testDeps(clk *fakeClock) connectors.Deps {
	if clk == nil {
		clk = newFakeClock(simNow)
	}
	return connectors.Deps{
		Metrics: httpclient.NewMetrics(prometheus.NewRegistry()),
		Logger:  slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)),
		Now:     clk.Now,
		Sleep:   clk.Sleep,
	}
}

// memStore mimics the store: cursors per stream, records by kind and id,
// one "transaction" per emitted page.
type memStore struct {
	cursors map[string][]byte
	records map[string]connectors.Record
	// failAt makes the failAt-th emit (1-based) fail, as a crash would.
	failAt  int
	emits   int
	pages   []connectors.Page
	written int // ticket records committed
}

func newMemStore() *memStore {
	return &memStore{cursors: map[string][]byte{}, records: map[string]connectors.Record{}}
}

func (s *memStore) Cursor(stream string) ([]byte, error) { return s.cursors[stream], nil }

func (s *memStore) emit(_ context.Context, p connectors.Page) error {
	s.emits++
	if s.failAt == s.emits {
		return errors.New("simulated crash before commit")
	}
	for _, r := range p.Records {
		key := r.Kind + "/" + r.ID
		if r.Kind == KindTicket {
			s.written++
		}
		if r.Deleted {
			delete(s.records, key)
			continue
		}
		s.records[key] = r
	}
	if p.Prune != nil {
		for key, r := range s.records {
			if r.Kind != p.Prune.Kind || !strings.HasPrefix(r.ID, p.Prune.Prefix) {
				continue
			}
			if _, ok := p.Prune.Keep[r.ID]; !ok {
				delete(s.records, key)
			}
		}
	}
	if p.Cursor != nil {
		s.cursors[p.Stream] = p.Cursor
	}
	s.pages = append(s.pages, p)
	return nil
}

func (s *memStore) ids(kind string) []string {
	var out []string
	for _, r := range s.records {
		if r.Kind == kind {
			out = append(out, r.ID)
		}
	}
	sort.Strings(out)
	return out
}

func (s *memStore) requests() int {
	n := 0
	for _, p := range s.pages {
		n += p.Requests
	}
	return n
}

type env struct {
	t   *testing.T
	clk *fakeClock
	sim *zendesksim.Server
	srv *httptest.Server
	c   *Connector
	log *bytes.Buffer

	mu      sync.Mutex
	handler http.Handler // what the test server serves: the simulator, or a wrapper
}

func (e *env) serve(h http.Handler) {
	e.mu.Lock()
	e.handler = h
	e.mu.Unlock()
}

// newEnv runs the simulator on an httptest server and a connector against
// it, both on one fake clock. The simulator's export budget is off (tests
// that want it turn it on); the connector reads 50 tickets a page.
func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	clk := newFakeClock(simNow)
	s := zendesksim.New(sim.Acme(), simNow, 7)
	s.SetClock(clk.Now)
	s.SetExportRateLimit(0)
	e := &env{t: t, clk: clk, sim: s, handler: s}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		h := e.handler
		e.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := validConfig()
	cfg.BaseURL = srv.URL
	cfg.Email = s.Email()
	cfg.Token = config.Secret(s.Token())
	cfg.Teams = map[string]string{"360001": "support"}
	if mutate != nil {
		mutate(cfg)
	}
	logBuf := &bytes.Buffer{}
	deps := testDeps(clk)
	deps.Logger = slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	c.pageSize = 50
	e.srv, e.c, e.log = srv, c, logBuf
	return e
}

func (e *env) sync(st *memStore, full bool) error {
	return e.c.Fetch(context.Background(), st, full, st.emit)
}

func (e *env) mustSync(st *memStore, full bool) {
	e.t.Helper()
	if err := e.sync(st, full); err != nil {
		e.t.Fatalf("sync: %v", err)
	}
}

func (e *env) exportCount() int { return e.sim.Recorder().Count(zendesksim.EndpointTicketExport) }

// expectedTickets is what a sync from now − lookback must hold: the ids of
// the exportable tickets that are not deleted.
func (e *env) expectedTickets() []string {
	start := e.clk.Now().Add(-e.c.cfg.Lookback.D())
	horizon := e.sim.Now().Add(-time.Minute)
	var out []string
	for _, t := range e.sim.Tickets() {
		if t.Status == "deleted" || t.GeneratedAt.Before(start) || t.GeneratedAt.After(horizon) {
			continue
		}
		out = append(out, fmt.Sprint(t.ID))
	}
	sort.Strings(out)
	return out
}

func (e *env) openTickets() []string {
	var out []string
	for _, id := range e.sim.OpenTicketIDs() {
		out = append(out, fmt.Sprint(id))
	}
	sort.Strings(out)
	return out
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFirstSyncOverSeveralPages(t *testing.T) {
	e := newEnv(t, nil)
	n := e.sim.ExportableTickets(simNow.Add(-90 * 24 * time.Hour))
	if n < 300 {
		t.Fatalf("simulator exports %d tickets; want a few hundred", n)
	}
	st := newMemStore()
	e.mustSync(st, false)

	if got, want := e.exportCount(), ceilDiv(n, 50); got != want {
		t.Errorf("export requests = %d, want ⌈%d/50⌉ = %d", got, n, want)
	}
	if got := e.sim.Recorder().Count(zendesksim.EndpointSearchExport); got != 1 {
		t.Errorf("search export requests = %d, want 1", got)
	}
	if got, want := st.ids(KindTicket), e.expectedTickets(); !equalStrings(got, want) {
		t.Errorf("stored %d tickets, want %d", len(got), len(want))
	}
	if got, want := st.ids(KindOpenTicket), e.openTickets(); !equalStrings(got, want) || len(want) == 0 {
		t.Errorf("open tickets = %v, want %v", got, want)
	}
	if st.cursors[StreamTickets] == nil {
		t.Error("no tickets cursor stored")
	}
	if got, want := st.requests(), e.exportCount()+e.sim.Recorder().Count(zendesksim.EndpointSearchExport); got != want {
		t.Errorf("pages report %d requests, the simulator saw %d", got, want)
	}
	// Every stored record normalises, and the data has every measure.
	measures := map[string]int{}
	for _, r := range st.records {
		samples, err := e.c.Normalize(r)
		if err != nil {
			t.Fatalf("normalize %s/%s: %v", r.Kind, r.ID, err)
		}
		for _, s := range samples {
			measures[s.Measure]++
		}
	}
	for _, m := range []string{MeasureTicketsSolved, MeasureFirstReplyTime, MeasureFullResolutionTime, MeasureTicketReopened, MeasureCSAT, MeasureBacklog} {
		if measures[m] == 0 {
			t.Errorf("no %s sample from the simulated account (%v)", m, measures)
		}
	}
}

func TestSyncRequestCounts(t *testing.T) {
	tests := []struct {
		name     string
		pageSize int
	}{
		{"page size 50", 50},
		{"default page size", defaultPageSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.c.pageSize = tt.pageSize
			n := e.sim.ExportableTickets(simNow.Add(-90 * 24 * time.Hour))
			st := newMemStore()
			e.mustSync(st, false)

			// Nothing changed (P5): one export request and one listing.
			e.clk.Advance(10 * time.Minute)
			e.sim.Recorder().Reset()
			e.mustSync(st, false)
			if got := e.sim.Recorder().Counts(); got[zendesksim.EndpointTicketExport] != 1 || got[zendesksim.EndpointSearchExport] != 1 || e.sim.Recorder().Total() != 2 {
				t.Errorf("quiet sync requests = %v, want one export and one search export", got)
			}

			// Full sync (P4): ⌈N/page size⌉ export pages, the cursor ignored.
			e.sim.Recorder().Reset()
			e.mustSync(st, true)
			if got, want := e.exportCount(), ceilDiv(n, tt.pageSize); got != want {
				t.Errorf("full sync export requests = %d, want ⌈%d/%d⌉ = %d", got, n, tt.pageSize, want)
			}
			if got, want := st.ids(KindTicket), e.expectedTickets(); !equalStrings(got, want) {
				t.Errorf("after full sync: %d tickets, want %d", len(got), len(want))
			}
		})
	}
}

func TestResumedSyncAppliesChanges(t *testing.T) {
	e := newEnv(t, nil)
	st := newMemStore()
	e.mustSync(st, false)

	var solvedID, openID, toDelete int64
	for _, tk := range e.sim.Tickets() {
		switch {
		case solvedID == 0 && tk.Status == "solved" && tk.Metrics != nil && tk.Metrics.Reopens == 0:
			solvedID = tk.ID
		case openID == 0 && tk.Status == "open":
			openID = tk.ID
		case toDelete == 0 && tk.Status == "closed":
			toDelete = tk.ID
		}
	}
	if solvedID == 0 || openID == 0 || toDelete == 0 {
		t.Fatal("simulated account lacks a solved, an open or a closed ticket")
	}
	newID := e.sim.AddTicket(zendesksim.Ticket{Status: "new", Priority: "urgent", GroupID: 360001, Satisfaction: "unoffered"})
	must(t, e.sim.ReopenTicket(solvedID))
	must(t, e.sim.SolveTicket(openID))
	must(t, e.sim.DeleteTicket(toDelete))
	e.clk.Advance(2 * time.Minute)

	e.sim.Recorder().Reset()
	e.mustSync(st, false)
	if got := e.exportCount(); got != 1 {
		t.Errorf("incremental sync export requests = %d, want 1", got)
	}
	if _, ok := st.records[KindTicket+"/"+fmt.Sprint(toDelete)]; ok {
		t.Error("deleted ticket still stored")
	}
	if _, ok := st.records[KindOpenTicket+"/"+fmt.Sprint(newID)]; !ok {
		t.Error("new ticket not in the backlog")
	}
	if _, ok := st.records[KindOpenTicket+"/"+fmt.Sprint(openID)]; ok {
		t.Error("solved ticket still in the backlog")
	}
	if _, ok := st.records[KindOpenTicket+"/"+fmt.Sprint(solvedID)]; !ok {
		t.Error("reopened ticket not in the backlog")
	}
	if got, want := st.ids(KindTicket), e.expectedTickets(); !equalStrings(got, want) {
		t.Errorf("stored %d tickets, want %d", len(got), len(want))
	}
	measuresOf := func(id int64) map[string]float64 {
		samples, err := e.c.Normalize(st.records[KindTicket+"/"+fmt.Sprint(id)])
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, s := range samples {
			out[s.Measure] = s.Value
		}
		return out
	}
	// SPEC §4.1: a ticket with metric_set.solved_at is solved; Zendesk keeps
	// the last solve on a reopened ticket, which now counts as reopened.
	if m := measuresOf(solvedID); m[MeasureTicketReopened] != 1 || !hasAny(m, MeasureTicketsSolved, MeasureFullResolutionTime) {
		t.Errorf("reopened ticket samples = %v, want its last solve with reopened = 1", m)
	}
	if m := measuresOf(openID); !hasAny(m, MeasureTicketsSolved) {
		t.Errorf("newly solved ticket has no solve sample: %v", m)
	}

	// Solved again: its samples are replaced, now counting the reopen.
	must(t, e.sim.SolveTicket(solvedID))
	e.clk.Advance(2 * time.Minute)
	e.mustSync(st, false)
	if m := measuresOf(solvedID); m[MeasureTicketReopened] != 1 || !hasAny(m, MeasureTicketsSolved) {
		t.Errorf("re-solved ticket samples = %v, want solved and reopened = 1", m)
	}
}

func hasAny(m map[string]float64, measures ...string) bool {
	for _, k := range measures {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCrashBetweenPagesResumesWithoutLossOrDuplicates(t *testing.T) {
	clean := newEnv(t, nil)
	want := newMemStore()
	clean.mustSync(want, false)
	cleanWritten := want.written

	e := newEnv(t, nil)
	st := newMemStore()
	st.failAt = 3
	err := e.sync(st, false)
	if err == nil || !strings.Contains(err.Error(), "commit zendesk tickets page 3") {
		t.Fatalf("sync with a failing commit: err = %v", err)
	}
	st.failAt = 0
	e.mustSync(st, false)

	if got, wantIDs := st.ids(KindTicket), want.ids(KindTicket); !equalStrings(got, wantIDs) {
		t.Errorf("after crash and resume: %d tickets, want %d", len(got), len(wantIDs))
	}
	if got, wantIDs := st.ids(KindOpenTicket), want.ids(KindOpenTicket); !equalStrings(got, wantIDs) {
		t.Errorf("after crash and resume: %d open tickets, want %d", len(got), len(wantIDs))
	}
	if st.written != cleanWritten {
		t.Errorf("ticket records committed over both runs = %d, a clean sync commits %d (duplicates or loss)", st.written, cleanWritten)
	}
}

func TestRejectedCursorRestartsFromStoredTime(t *testing.T) {
	e := newEnv(t, nil)
	st := newMemStore()
	e.mustSync(st, false)

	id := e.sim.AddTicket(zendesksim.Ticket{Status: "open", Priority: "low"})
	e.clk.Advance(2 * time.Minute)
	e.sim.ExpireCursors()
	e.sim.Recorder().Reset()
	e.mustSync(st, false)
	if got := e.exportCount(); got != 2 {
		t.Errorf("export requests = %d, want 2 (rejected cursor, restart from time)", got)
	}
	if _, ok := st.records[KindTicket+"/"+fmt.Sprint(id)]; !ok {
		t.Error("ticket added before the restart is missing")
	}
	if !strings.Contains(e.log.String(), "rejected the stored export cursor") {
		t.Error("no warning logged about the rejected cursor")
	}
	// The new cursor works.
	e.sim.Recorder().Reset()
	e.mustSync(st, false)
	if got := e.exportCount(); got != 1 {
		t.Errorf("export requests after the restart = %d, want 1", got)
	}
}

func TestUpstreamFailures(t *testing.T) {
	tests := []struct {
		name      string
		fault     sim.Fault
		wantErr   []string // substrings of the error; nil: the sync succeeds
		wantCreds bool
		minSleep  time.Duration
	}{
		{
			name: "429 with Retry-After is waited out",
			fault: sim.Fault{Endpoint: zendesksim.EndpointTicketExport, Status: http.StatusTooManyRequests,
				Header: http.Header{"Retry-After": {"7"}}, Body: `{"error":"TooManyRequests"}`},
			minSleep: 7 * time.Second,
		},
		{
			name:  "500 then success",
			fault: sim.Fault{Endpoint: zendesksim.EndpointTicketExport, Status: http.StatusInternalServerError, Body: `{"error":"InternalError"}`},
		},
		{
			name:  "503 on the search export then success",
			fault: sim.Fault{Endpoint: zendesksim.EndpointSearchExport, Status: http.StatusServiceUnavailable},
		},
		{
			name:    "malformed export JSON names the connector and the endpoint",
			fault:   sim.Fault{Endpoint: zendesksim.EndpointTicketExport, Status: http.StatusOK, Body: `{"tickets": [{"id": 1,`},
			wantErr: []string{"acme-zendesk", "/api/v2/incremental/tickets/cursor.json", "unexpected EOF"},
		},
		{
			name:    "unexpected field type is an error, not a crash",
			fault:   sim.Fault{Endpoint: zendesksim.EndpointTicketExport, Status: http.StatusOK, Body: `{"tickets": [{"id": {"nested": true}}], "end_of_stream": true}`},
			wantErr: []string{"acme-zendesk", "/api/v2/incremental/tickets/cursor.json", "not a number"},
		},
		{
			name:    "malformed search JSON names the endpoint",
			fault:   sim.Fault{Endpoint: zendesksim.EndpointSearchExport, Status: http.StatusOK, Body: `{"results": "nope"}`},
			wantErr: []string{"acme-zendesk", "/api/v2/search/export"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.sim.Recorder().Inject(tt.fault)
			st := newMemStore()
			err := e.sync(st, false)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("sync succeeded")
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if strings.Contains(err.Error(), "start_time=") {
					t.Errorf("error %q carries the query", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if got, want := st.ids(KindTicket), e.expectedTickets(); !equalStrings(got, want) {
				t.Errorf("stored %d tickets, want %d", len(got), len(want))
			}
			if tt.minSleep > 0 {
				var waited bool
				for _, d := range e.clk.Slept() {
					waited = waited || d >= tt.minSleep
				}
				if !waited {
					t.Errorf("no wait of at least %v (waits: %v)", tt.minSleep, e.clk.Slept())
				}
			}
		})
	}
}

func TestWrongTokenIsACredentialsError(t *testing.T) {
	e := newEnv(t, nil)
	e.sim.SetCredentials(e.sim.Email(), "another-token")
	err := e.sync(newMemStore(), false)
	if !errors.Is(err, httpclient.ErrCredentials) {
		t.Fatalf("err = %v, want a credentials error", err)
	}
	if strings.Contains(err.Error(), e.c.cfg.Token.Value()) {
		t.Errorf("error %q leaks the token", err)
	}
	if got := e.exportCount(); got != 1 {
		t.Errorf("export requests = %d, want 1 (a 401 is not retried)", got)
	}
}

func TestExportPacing(t *testing.T) {
	tests := []struct {
		name      string
		perMinute int
		// simLimit makes the simulator enforce Zendesk's budget on the same
		// clock and announce it in its headers. Without it only the
		// connector's own pacing spreads the requests.
		simLimit bool
	}{
		{"10 a minute, paced by the connector alone", 10, false},
		{"30 a minute, paced by the connector alone", 30, false},
		{"10 a minute, budget enforced upstream", 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.ExportRequestsPerMinute = tt.perMinute })
			e.c.pageSize = 10
			if tt.simLimit {
				e.sim.SetExportRateLimit(tt.perMinute)
			}
			var mu sync.Mutex
			var at []time.Time
			limited := 0
			e.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasPrefix(r.URL.Path, "/api/v2/incremental/") {
					e.sim.ServeHTTP(w, r)
					return
				}
				sw := &statusWriter{ResponseWriter: w}
				mu.Lock()
				at = append(at, e.clk.Now())
				mu.Unlock()
				e.sim.ServeHTTP(sw, r)
				if sw.status == http.StatusTooManyRequests {
					mu.Lock()
					limited++
					mu.Unlock()
				}
			}))
			e.mustSync(newMemStore(), false)
			if limited > 0 {
				t.Errorf("%d export requests were rate limited by the simulator", limited)
			}
			k := len(at)
			if k <= tt.perMinute {
				t.Fatalf("only %d export requests; the test needs more than %d", k, tt.perMinute)
			}
			// However the pacer spreads them (evenly, or a burst then a
			// steady rate), k requests at n a minute take at least
			// (k−1−n) intervals of a minute/n.
			interval := time.Minute / time.Duration(tt.perMinute)
			minElapsed := time.Duration(k-1-tt.perMinute) * interval
			if got := at[k-1].Sub(at[0]); got < minElapsed {
				t.Errorf("%d export requests took %v of the injected clock, want at least %v", k, got, minElapsed)
			}
		})
	}
}

func TestResolveIdentity(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	id, err := e.c.ResolveIdentity(ctx, strings.ToUpper(zendesksim.UserEmail("bob")))
	if err != nil {
		t.Fatal(err)
	}
	if id != "360012345601" {
		t.Errorf("bob = %s, want 360012345601", id)
	}
	if _, err := e.c.ResolveIdentity(ctx, zendesksim.UserEmail("bob")); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Recorder().Count(zendesksim.EndpointUsersSearch); got != 1 {
		t.Errorf("users search requests = %d, want 1 (cached)", got)
	}
	if _, err := e.c.ResolveIdentity(ctx, "nobody@acme.example"); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("unknown email: err = %v", err)
	}
	e.clk.Advance(61 * time.Minute)
	if _, err := e.c.ResolveIdentity(ctx, zendesksim.UserEmail("bob")); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Recorder().Count(zendesksim.EndpointUsersSearch); got != 3 {
		t.Errorf("users search requests = %d, want 3 (cache refreshed after an hour)", got)
	}
}

func TestGroupNamesLoggedHourly(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Teams = map[string]string{"360001": "support", "999": "ghosts"} })
	st := newMemStore()
	e.mustSync(st, false)
	logs := e.log.String()
	if !strings.Contains(logs, "group_id=360001 group=Support team=support") {
		t.Errorf("group name not logged:\n%s", logs)
	}
	if !strings.Contains(logs, "does not exist") || !strings.Contains(logs, "group_id=999") {
		t.Errorf("missing group not warned about:\n%s", logs)
	}
	if strings.Contains(logs, e.c.cfg.Token.Value()) {
		t.Error("logs leak the token")
	}
	e.mustSync(st, false)
	if got := e.sim.Recorder().Count(zendesksim.EndpointGroups); got != 1 {
		t.Errorf("groups requests = %d, want 1 within the hour", got)
	}
	e.clk.Advance(time.Hour)
	e.mustSync(st, false)
	if got := e.sim.Recorder().Count(zendesksim.EndpointGroups); got != 2 {
		t.Errorf("groups requests = %d, want 2 after an hour", got)
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
