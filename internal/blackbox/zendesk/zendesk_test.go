// Package zendesk is the black-box acceptance test of kpid's Zendesk
// connector: the real kpid binary runs against a fake Zendesk written from
// Zendesk's API reference (not from kpid's simulator), and every kpi_*
// series of every zendesk_* KPI is compared with values worked out by hand
// from SPEC (§3.2, §4, §4.1, §4.2, §5.2, §6.1, §6.2).
package zendesk

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpid/kpid/internal/blackbox"
)

// ---------------------------------------------------------------------------
// A fake Zendesk Support API.
//
// From the reference ("Incremental Exports", "Search", "Groups", "Users",
// "Ticket Metrics", "Security and authentication"):
//   - every request authenticates with basic auth "{email}/token:{token}";
//   - GET /api/v2/incremental/tickets/cursor.json?start_time=T (first
//     request) or ?cursor=C (next ones, and the next export): tickets
//     changed at or after start_time, oldest change first, with
//     after_cursor/after_url/before_cursor/before_url and end_of_stream;
//     include=metric_sets side-loads a top-level metric_sets array (one per
//     ticket, with ticket_id); exclude_deleted=true leaves deleted tickets
//     out (they otherwise come with status "deleted");
//   - GET /api/v2/search/export?query=Q&filter[type]=ticket&page[size]=N:
//     results ordered by created_at, cursor pagination (meta.has_more,
//     meta.after_cursor, links.next; page[after]=cursor); the object type
//     goes in filter[type], and "searches with type in the query string
//     will result in an error" (400) — unless specQuery is set (an upstream
//     that wants SPEC §3.2's literal "type:ticket status<solved");
//   - GET /api/v2/groups(.json), /api/v2/users/search(.json)?query=email:X,
//     /api/v2/users/{id}(.json), /api/v2/users/me(.json).
//
// Pages are kept small (the export sends at most exportPage tickets, search
// at most searchPage results, whatever the client asks) so that paging is
// exercised; a server may always return fewer items than asked with a
// cursor to the rest.
// ---------------------------------------------------------------------------

const (
	fakeEmail  = "ops@acme.test"
	fakeToken  = "s3cr3t-zd-token"
	exportPage = 5
	searchPage = 4
)

type ticket struct {
	ID       int64
	Status   string // new, open, pending, hold, solved, closed, deleted
	Priority string // "" = null
	Assignee int64  // 0 = null
	Group    int64  // 0 = null
	Created  time.Time
	Updated  time.Time
	CSAT     string // "" = satisfaction_rating null; else its score

	// Metric set.
	SolvedAt *time.Time
	Reopens  int
	ReplyCal *float64 // reply_time_in_minutes (nil = null: no reply yet)
	ReplyBus *float64
	ResCal   *float64 // full_resolution_time_in_minutes
	ResBus   *float64
}

type user struct {
	ID    int64
	Name  string
	Email string
}

type fake struct {
	t   *testing.T
	srv *httptest.Server
	// specQuery makes the search export want the query as SPEC §3.2 writes
	// it ("type:ticket status<solved"), rejecting any other with 400; by
	// default it does what the reference says: "Searches with type in the
	// query string will result in an error" (400).
	specQuery bool

	mu      sync.Mutex
	tickets map[int64]*ticket
	users   []user
	groups  map[int64]string
	// requests counts requests by path; authFailures those refused.
	requests     map[string]int
	authFailures int
	exportQuery  []url.Values
	searchQuery  []url.Values
}

func newFake(t *testing.T, tickets []*ticket, users []user, groups map[int64]string) *fake {
	f := &fake{t: t, tickets: map[int64]*ticket{}, users: users, groups: groups, requests: map[string]int{}}
	for _, tk := range tickets {
		f.tickets[tk.ID] = tk
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// update changes a ticket under the lock.
func (f *fake) update(id int64, fn func(*ticket)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.tickets[id])
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimSuffix(r.URL.Path, ".json")
	f.requests[path]++
	if u, p, ok := r.BasicAuth(); !ok || u != fakeEmail+"/token" || p != fakeToken {
		f.authFailures++
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Couldn't authenticate you"})
		return
	}
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "MethodNotAllowed"})
		return
	}
	switch {
	case path == "/api/v2/incremental/tickets/cursor":
		f.export(w, r)
	case path == "/api/v2/search/export":
		f.searchExport(w, r)
	case path == "/api/v2/groups":
		var gs []map[string]any
		ids := make([]int64, 0, len(f.groups))
		for id := range f.groups {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			gs = append(gs, map[string]any{"id": id, "name": f.groups[id], "deleted": false, "default": false,
				"url": fmt.Sprintf("%s/api/v2/groups/%d.json", f.srv.URL, id)})
		}
		writeJSON(w, http.StatusOK, map[string]any{"groups": gs,
			"meta":  map[string]any{"has_more": false, "after_cursor": nil, "before_cursor": nil},
			"links": map[string]any{"next": nil, "prev": nil}})
	case path == "/api/v2/users/search":
		q := strings.TrimSpace(r.URL.Query().Get("query"))
		email, _ := strings.CutPrefix(q, "email:")
		var us []map[string]any
		for _, u := range f.users {
			if strings.EqualFold(u.Email, email) {
				us = append(us, userJSON(u))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"users": us, "next_page": nil, "previous_page": nil, "count": len(us)})
	case path == "/api/v2/users/me":
		writeJSON(w, http.StatusOK, map[string]any{"user": map[string]any{"id": 1, "email": fakeEmail, "role": "admin", "name": "Ops"}})
	case strings.HasPrefix(path, "/api/v2/users/"):
		id, _ := strconv.ParseInt(strings.TrimPrefix(path, "/api/v2/users/"), 10, 64)
		for _, u := range f.users {
			if u.ID == id {
				writeJSON(w, http.StatusOK, map[string]any{"user": userJSON(u)})
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "RecordNotFound", "description": "Not found"})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "InvalidEndpoint", "description": "Not found"})
	}
}

func userJSON(u user) map[string]any {
	return map[string]any{"id": u.ID, "name": u.Name, "email": u.Email, "role": "agent", "active": true}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func tsp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func numOrNull[T int64 | int](v T) any {
	if v == 0 {
		return nil
	}
	return v
}

func minutes(cal, bus *float64) map[string]any {
	m := map[string]any{"calendar": nil, "business": nil}
	if cal != nil {
		m["calendar"] = *cal
	}
	if bus != nil {
		m["business"] = *bus
	}
	return m
}

func (f *fake) ticketJSON(t *ticket) map[string]any {
	var prio, csat any
	if t.Priority != "" {
		prio = t.Priority
	}
	if t.CSAT != "" {
		csat = map[string]any{"score": t.CSAT, "id": t.ID * 7}
	}
	return map[string]any{
		"id":                  t.ID,
		"url":                 fmt.Sprintf("%s/api/v2/tickets/%d.json", f.srv.URL, t.ID),
		"subject":             fmt.Sprintf("Ticket %d", t.ID),
		"description":         "Private customer text",
		"status":              t.Status,
		"priority":            prio,
		"type":                "question",
		"assignee_id":         numOrNull(t.Assignee),
		"group_id":            numOrNull(t.Group),
		"requester_id":        77000 + t.ID,
		"organization_id":     nil,
		"tags":                []string{"vip"},
		"custom_fields":       []map[string]any{{"id": 360000099, "value": nil}},
		"created_at":          ts(t.Created),
		"updated_at":          ts(t.Updated),
		"generated_timestamp": t.Updated.Unix(),
		"satisfaction_rating": csat,
	}
}

func (f *fake) metricSetJSON(t *ticket) map[string]any {
	return map[string]any{
		"id":                               t.ID + 900000,
		"url":                              fmt.Sprintf("%s/api/v2/ticket_metrics/%d.json", f.srv.URL, t.ID+900000),
		"ticket_id":                        t.ID,
		"created_at":                       ts(t.Created),
		"updated_at":                       ts(t.Updated),
		"group_stations":                   1,
		"assignee_stations":                1,
		"reopens":                          t.Reopens,
		"replies":                          2,
		"solved_at":                        tsp(t.SolvedAt),
		"assigned_at":                      ts(t.Created),
		"initially_assigned_at":            ts(t.Created),
		"latest_comment_added_at":          ts(t.Updated),
		"reply_time_in_minutes":            minutes(t.ReplyCal, t.ReplyBus),
		"first_resolution_time_in_minutes": minutes(t.ResCal, t.ResBus),
		"full_resolution_time_in_minutes":  minutes(t.ResCal, t.ResBus),
		"agent_wait_time_in_minutes":       minutes(nil, nil),
		"requester_wait_time_in_minutes":   minutes(nil, nil),
		"on_hold_time_in_minutes":          map[string]any{"calendar": 0, "business": 0},
	}
}

// exportPos is a position in the export: (generated_timestamp, id).
type exportPos struct {
	TS int64
	ID int64
}

func (p exportPos) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d.%d", p.TS, p.ID)))
}

func decodePos(s string) (exportPos, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return exportPos{}, false
	}
	a, c, ok := strings.Cut(string(b), ".")
	if !ok {
		return exportPos{}, false
	}
	ts, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(c, 10, 64)
	return exportPos{ts, id}, err1 == nil && err2 == nil
}

func (p exportPos) less(q exportPos) bool { return p.TS < q.TS || (p.TS == q.TS && p.ID < q.ID) }

func (f *fake) export(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.exportQuery = append(f.exportQuery, q)
	var from exportPos // the export returns the tickets strictly after from
	switch {
	case q.Get("cursor") != "":
		p, ok := decodePos(q.Get("cursor"))
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "InvalidPaginationParameter", "description": "invalid cursor"})
			return
		}
		from = p
	case q.Get("start_time") != "":
		st, err := strconv.ParseInt(q.Get("start_time"), 10, 64)
		if err != nil || st < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "InvalidValue", "description": "start_time is invalid"})
			return
		}
		from = exportPos{TS: st, ID: -1} // tickets changed at or after start_time
	default:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "InvalidPaginationParameter", "description": "start_time or cursor is required"})
		return
	}
	size := exportPage
	if pp, err := strconv.Atoi(q.Get("per_page")); err == nil && pp > 0 && pp < size {
		size = pp
	}
	excludeDeleted := q.Get("exclude_deleted") == "true"
	var all []*ticket
	for _, t := range f.tickets {
		if excludeDeleted && t.Status == "deleted" {
			continue
		}
		if from.less(exportPos{t.Updated.Unix(), t.ID}) {
			all = append(all, t)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		return exportPos{all[i].Updated.Unix(), all[i].ID}.less(exportPos{all[j].Updated.Unix(), all[j].ID})
	})
	page := all
	if len(page) > size {
		page = page[:size]
	}
	after, before := from, from
	if len(page) > 0 {
		before = exportPos{page[0].Updated.Unix(), page[0].ID}
		after = exportPos{page[len(page)-1].Updated.Unix(), page[len(page)-1].ID}
	}
	link := func(p exportPos) string {
		v := url.Values{"cursor": {p.encode()}}
		if q.Has("include") {
			v.Set("include", q.Get("include"))
		}
		return f.srv.URL + "/api/v2/incremental/tickets/cursor.json?" + v.Encode()
	}
	tickets := make([]map[string]any, 0, len(page))
	metricSets := make([]map[string]any, 0, len(page))
	for _, t := range page {
		tickets = append(tickets, f.ticketJSON(t))
		metricSets = append(metricSets, f.metricSetJSON(t))
	}
	body := map[string]any{
		"tickets":       tickets,
		"after_cursor":  after.encode(),
		"after_url":     link(after),
		"before_cursor": before.encode(),
		"before_url":    link(before),
		"end_of_stream": len(all) <= size,
	}
	if strings.Contains(q.Get("include"), "metric_sets") {
		body["metric_sets"] = metricSets
	}
	writeJSON(w, http.StatusOK, body)
}

func (f *fake) searchExport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.searchQuery = append(f.searchQuery, q)
	if q.Get("filter[type]") != "ticket" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "InvalidParameter", "description": "filter[type] is required"})
		return
	}
	// Query: only what this fake understands. status<solved (new, open,
	// pending, hold), status:X; type:ticket as specQuery says.
	query := q.Get("query")
	if hasType := strings.Contains(query, "type:"); hasType != f.specQuery {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "InvalidParameter",
			"description": fmt.Sprintf("fake (specQuery %v): query %q", f.specQuery, query)})
		return
	}
	var keep func(*ticket) bool = func(t *ticket) bool { return t.Status != "deleted" }
	for _, term := range strings.Fields(query) {
		switch {
		case term == "type:ticket":
		case term == "status<solved":
			prev := keep
			keep = func(t *ticket) bool {
				return prev(t) && (t.Status == "new" || t.Status == "open" || t.Status == "pending" || t.Status == "hold")
			}
		case strings.HasPrefix(term, "status:"):
			s, prev := strings.TrimPrefix(term, "status:"), keep
			keep = func(t *ticket) bool { return prev(t) && t.Status == s }
		default:
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "InvalidParameter", "description": "fake: unsupported query term " + term})
			return
		}
	}
	var all []*ticket
	for _, t := range f.tickets {
		if keep(t) {
			all = append(all, t)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].Created.Equal(all[j].Created) {
			return all[i].Created.Before(all[j].Created)
		}
		return all[i].ID < all[j].ID
	})
	size := 100
	if n, err := strconv.Atoi(q.Get("page[size]")); err == nil && n > 0 {
		if n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "InvalidParameter", "description": "page[size] must be at most 1000"})
			return
		}
		size = n
	}
	size = min(size, searchPage)
	start := 0
	if a := q.Get("page[after]"); a != "" {
		b, err := base64.RawURLEncoding.DecodeString(a)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "InvalidPaginationParameter", "description": "invalid cursor"})
			return
		}
		start = min(n, len(all))
	}
	end := min(start+size, len(all))
	results := make([]map[string]any, 0, end-start)
	for _, t := range all[start:end] {
		j := f.ticketJSON(t)
		j["result_type"] = "ticket"
		results = append(results, j)
	}
	more := end < len(all)
	var afterCursor, next any
	if more {
		c := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
		afterCursor = c
		v := url.Values{"query": {q.Get("query")}, "filter[type]": {"ticket"}, "page[size]": {q.Get("page[size]")}, "page[after]": {c}}
		next = f.srv.URL + "/api/v2/search/export.json?" + v.Encode()
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"results": results,
		"facets":  nil,
		"meta":    map[string]any{"has_more": more, "after_cursor": afterCursor, "before_cursor": nil},
		"links":   map[string]any{"next": next, "prev": nil},
	})
}

// ---------------------------------------------------------------------------
// The dataset, relative to now N = 2026-03-02T12:00:00Z.
//
// Windows: 28d is (W0, N] with W0 = N−28d = 2026-02-02T12:00:00Z; 7d is
// (N−7d, N]; a 28d baseline of a 28d window is (N−56d, W0]; a 56d one
// (N−84d, W0].
//
// People (config below):
//   ana  zendesk 360000001001 (a YAML integer)   team support  roles [support]
//   ben  zendesk "360000001002"                   team support  roles [support]
//   cid  zendesk cid@acme.test (resolved by the users search to 360000001003)
//                                                 team success  roles [support]
//   dan  no zendesk identity                      team sales    roles [sdr]
//   eve  zendesk "360000001005"                   team sales    roles [sdr]
// Undeclared assignee: 360000009999. Groups: 500 → support, 600 → tier2,
// 700 unmapped (360000000500/600/700, shortened in comments).
// Priority weights: urgent 3, high 2, normal 1; low is not given (default 1);
// a ticket without priority weighs 1.
//
// Tickets (first reply sample at created + calendar minutes; business
// minutes differ everywhere — for the open tickets they are calendar × 0.5
// + 1 — and business_hours is false in TestZendeskKPIs, so they must be
// ignored there):
//
// id  status  prio   assignee group created      solved_at  reopens reply(cal) fullres(cal) csat      updated
// 101 solved  urgent ana      500   N−10d        N−9d       0       30         1440         good      N−8d
// 102 closed  high   ana      500   N−20d        N−19d      1       90         2880         bad       N−15d
// 103 solved  normal ben      500   N−5d         N−4d       0       180        1500         offered   N−4d
// 104 solved  null   ben      500   N−3d         N−2d       0       0          60           unoffered N−2d
// 105 solved  low    cid      500   N−15d        N−14d      2       240        4000         good      N−14d
// 106 solved  urgent 9999     600   N−8d         N−7d       0       60         2000         bad       N−7d
// 107 solved  normal 9999     700   N−6d         N−6d+5h    0       120        300          good      N−6d+5h
// 108 closed  high   ana      500   W0−2d        W0 (edge)  0       30         2880         good      N−20d
// 109 solved  normal ben      500   W0−1h        W0+1s      0       120        60           null      W0+1s
// 110 closed  normal ana      500   N−40d        N−39d      1       45         1440         good      N−2d
// 111 closed  urgent ana      500   N−61d        N−60d      0       10         1440         good      N−60d
// 112 solved  urgent ben      500   N−1d−2h      N−1d       0       15         120          good      N−1d   (deleted in phase 2)
// 201 new     urgent ana      500   N−1d         -          0       null       null         null      N−1d
// 202 open    normal ben      500   N−2d         -          0       300        null         bad       N−1d
// 203 pending high   cid      600   N−3d         -          0       20         null         unoffered N−3d+20m
// 204 hold    low    9999     600   N−120d       -          0       null       null         null      N−110d (before the lookback)
// 205 new     null   null     null  N−2h         -          0       null       null         null      N−2h
// 206 open    normal eve      700   N−30m        -          0       25         null         unoffered N−5m
// 207 open    normal ben      500   N−3h         -          0       null       null         null      N−3h   (deleted in phase 2)
// ---------------------------------------------------------------------------

var (
	N  = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	W0 = N.Add(-28 * day)
)

const (
	day  = 24 * time.Hour
	ana  = 360000001001
	ben  = 360000001002
	cid  = 360000001003
	eve  = 360000001005
	anon = 360000009999
	g500 = 360000000500
	g600 = 360000000600
	g700 = 360000000700
)

func f64(v float64) *float64    { return &v }
func at(t time.Time) *time.Time { return &t }

func dataset() []*ticket {
	solved := func(id int64, status, prio string, who, group int64, created, solvedAt time.Time, reopens int,
		replyCal, replyBus, resCal, resBus float64, csat string, updated time.Time) *ticket {
		return &ticket{ID: id, Status: status, Priority: prio, Assignee: who, Group: group, Created: created,
			Updated: updated, CSAT: csat, SolvedAt: at(solvedAt), Reopens: reopens,
			ReplyCal: f64(replyCal), ReplyBus: f64(replyBus), ResCal: f64(resCal), ResBus: f64(resBus)}
	}
	open := func(id int64, status, prio string, who, group int64, created time.Time, replyCal *float64, csat string, updated time.Time) *ticket {
		t := &ticket{ID: id, Status: status, Priority: prio, Assignee: who, Group: group, Created: created, Updated: updated, CSAT: csat}
		if replyCal != nil {
			t.ReplyCal, t.ReplyBus = replyCal, f64(*replyCal*0.5+1)
		}
		return t
	}
	return []*ticket{
		solved(101, "solved", "urgent", ana, g500, N.Add(-10*day), N.Add(-9*day), 0, 30, 20, 1440, 600, "good", N.Add(-8*day)),
		solved(102, "closed", "high", ana, g500, N.Add(-20*day), N.Add(-19*day), 1, 90, 60, 2880, 900, "bad", N.Add(-15*day)),
		solved(103, "solved", "normal", ben, g500, N.Add(-5*day), N.Add(-4*day), 0, 180, 100, 1500, 700, "offered", N.Add(-4*day)),
		solved(104, "solved", "", ben, g500, N.Add(-3*day), N.Add(-2*day), 0, 0, 0, 60, 60, "unoffered", N.Add(-2*day)),
		solved(105, "solved", "low", cid, g500, N.Add(-15*day), N.Add(-14*day), 2, 240, 120, 4000, 1000, "good", N.Add(-14*day)),
		solved(106, "solved", "urgent", anon, g600, N.Add(-8*day), N.Add(-7*day), 0, 60, 45, 2000, 800, "bad", N.Add(-7*day)),
		solved(107, "solved", "normal", anon, g700, N.Add(-6*day), N.Add(-6*day+5*time.Hour), 0, 120, 90, 300, 200, "good", N.Add(-6*day+5*time.Hour)),
		solved(108, "closed", "high", ana, g500, W0.Add(-2*day), W0, 0, 30, 15, 2880, 1000, "good", N.Add(-20*day)),
		solved(109, "solved", "normal", ben, g500, W0.Add(-time.Hour), W0.Add(time.Second), 0, 120, 30, 60, 20, "", W0.Add(time.Second)),
		solved(110, "closed", "normal", ana, g500, N.Add(-40*day), N.Add(-39*day), 1, 45, 30, 1440, 500, "good", N.Add(-2*day)),
		solved(111, "closed", "urgent", ana, g500, N.Add(-61*day), N.Add(-60*day), 0, 10, 10, 1440, 480, "good", N.Add(-60*day)),
		solved(112, "solved", "urgent", ben, g500, N.Add(-day-2*time.Hour), N.Add(-day), 0, 15, 15, 120, 120, "good", N.Add(-day)),
		open(201, "new", "urgent", ana, g500, N.Add(-day), nil, "", N.Add(-day)),
		open(202, "open", "normal", ben, g500, N.Add(-2*day), f64(300), "bad", N.Add(-day)),
		open(203, "pending", "high", cid, g600, N.Add(-3*day), f64(20), "unoffered", N.Add(-3*day+20*time.Minute)),
		open(204, "hold", "low", anon, g600, N.Add(-120*day), nil, "", N.Add(-110*day)),
		open(205, "new", "", 0, 0, N.Add(-2*time.Hour), nil, "", N.Add(-2*time.Hour)),
		open(206, "open", "normal", eve, g700, N.Add(-30*time.Minute), f64(25), "unoffered", N.Add(-5*time.Minute)),
		open(207, "open", "normal", ben, g500, N.Add(-3*time.Hour), nil, "", N.Add(-3*time.Hour)),
	}
}

const configTemplate = `
teams: [support, success, sales, tier2]
people:
  - {id: ana, name: Ana, team: support, roles: [support], zendesk: 360000001001}
  - {id: ben, team: support, roles: [support], zendesk: "360000001002"}
  - {id: cid, team: success, roles: [support], zendesk: cid@acme.test}
  - {id: dan, team: sales, roles: [sdr]}
  - {id: eve, team: sales, roles: [sdr], zendesk: "360000001005"}
connectors:
  - name: zd
    type: zendesk
    schedule: "@every 1s"
    base_url: BASE_URL
    email: ops@acme.test
    token: s3cr3t-zd-token
    lookback: 100d
    business_hours: false
    export_requests_per_minute: 30
    priority_weights: {urgent: 3, high: 2, normal: 1}
    teams: {"360000000500": support, 360000000600: tier2}
kpis:
  - {id: solved, measure: zendesk_tickets_solved, stat: sum, per: week, window: 28d, baseline: 28d,
     target: 1, targets: {"team:tier2": 0.5, "person:ben": 2}, scope: [org, team, person], roles: [support],
     owner: Support lead, cadence: weekly}
  - {id: solved_n, measure: zendesk_tickets_solved, stat: count, window: 28d, baseline: 56d, scope: [org, team],
     owner: Support lead, cadence: weekly}
  - {id: urgent_solved, measure: zendesk_tickets_solved, stat: count, window: 28d, filter: {priority: urgent},
     scope: [org], target: 1, owner: Support lead, cadence: weekly}
  - {id: frt_p50, measure: zendesk_first_reply_time_seconds, stat: p50, window: 28d, target: 2h,
     targets: {"person:cid": 4h}, scope: [org, team, person], roles: [support], owner: Support lead, cadence: weekly}
  - {id: frt_sla, measure: zendesk_first_reply_time_seconds, stat: fraction_le, threshold: 2h, window: 28d,
     target: "90%", scope: [org, team], owner: Support lead, cadence: weekly}
  - {id: frt_mean, measure: zendesk_first_reply_time_seconds, stat: mean, windows: [7d, 28d], scope: [org],
     baseline: 28d, owner: Support lead, cadence: weekly}
  - {id: frt_g600, measure: zendesk_first_reply_time_seconds, stat: count, window: 28d,
     filter: {group: "360000000600"}, scope: [org], target: 1, owner: Support lead, cadence: weekly}
  - {id: resolution, measure: zendesk_full_resolution_time_seconds, stat: max, window: 28d, target: 48h,
     scope: [org, team], owner: Support lead, cadence: weekly}
  - {id: reopen, measure: zendesk_ticket_reopened, stat: mean, window: 28d, baseline: 28d, target: 0.1,
     scope: [org, team], owner: Support lead, cadence: monthly}
  - {id: csat, measure: zendesk_csat, stat: mean, window: 28d, target: "90%", targets: {"team:tier2": 0.5},
     scope: [org, team, person], owner: Support lead, cadence: monthly}
  - {id: backlog, measure: zendesk_backlog, stat: count, window: 28d, target: 3, scope: [org, team, person],
     roles: [support], owner: Support lead, cadence: weekly}
  - {id: backlog_7d, measure: zendesk_backlog, stat: count, window: 7d, baseline: 28d, scope: [org], target: 10,
     owner: Support lead, cadence: weekly}
`

// ---------------------------------------------------------------------------
// Expected series.

var none = math.NaN()

// row is one (kpi, window, team, person) series: NaN means "no such series"
// for value, target, on_target and baseline; samples always exists.
type row struct {
	team, person string
	value        float64
	samples      float64
	target       float64
	on           float64
	baseline     float64
}

func expect(kpi, window string, rows ...row) map[string]float64 {
	out := map[string]float64{}
	for _, r := range rows {
		kv := []string{"kpi", kpi, "window", window, "team", r.team, "person", r.person}
		out[blackbox.Key("kpi_samples", kv...)] = r.samples
		for _, x := range []struct {
			fam string
			v   float64
		}{{"kpi_value", r.value}, {"kpi_target", r.target}, {"kpi_on_target", r.on}, {"kpi_baseline", r.baseline}} {
			if !math.IsNaN(x.v) {
				out[blackbox.Key(x.fam, kv...)] = x.v
			}
		}
	}
	return out
}

func merge(ms ...map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

func compare(t *testing.T, kpi string, got, want map[string]float64) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !gok:
			t.Errorf("%s: missing %s (want %v)", kpi, k, w)
		case !wok:
			t.Errorf("%s: unexpected %s = %v", kpi, k, g)
		case !near(g, w):
			t.Errorf("%s: %s = %v, want %v", kpi, k, g, w)
		}
	}
}

// expected is the whole expected state after phase 2 (tickets 112 and 207
// deleted), KPI by KPI.
func expected() map[string]map[string]float64 {
	e := map[string]map[string]float64{}

	// solved: sum of priority weights per week over 28d (÷ 4 weeks).
	// In (W0, N]: 101 urgent 3 (ana), 102 high 2 (ana), 103 normal 1 (ben),
	// 104 null 1 (ben), 105 low 1 (cid/success; low not in the weights:
	// default 1), 106 urgent 3 (anon/600 → tier2), 107 normal 1 (anon/700 →
	// org only), 109 normal 1 (ben, solved W0+1s). 108 solved exactly at W0
	// is out; 110, 111 are older; 112 is deleted.
	// org 13/4 = 3.25 (8 samples); support 101+102+103+104+109 = 8 → 2;
	// success 1 → 0.25; tier2 3 → 0.75; ana 5 → 1.25; ben 3 → 0.75;
	// cid 1 → 0.25. Teams: support, success (eligible people), tier2
	// (mapping); eve (roles [sdr]) is not eligible and has no solved
	// ticket, so no sales series; dan has no zendesk id.
	// Targets: 1, team:tier2 0.5, person:ben 2; direction higher.
	// Baseline (N−56d, W0]: 108 high 2 (ana, at W0: included) + 110 normal 1
	// (ana) = 3 per 4 weeks = 0.75 for org, support, ana; 0 elsewhere.
	e["solved"] = expect("solved", "28d",
		row{"", "", 3.25, 8, 1, 1, 0.75},
		row{"support", "", 2, 5, 1, 1, 0.75},
		row{"success", "", 0.25, 1, 1, 0, 0},
		row{"tier2", "", 0.75, 1, 0.5, 1, 0},
		row{"support", "ana", 1.25, 2, 1, 1, 0.75},
		row{"support", "ben", 0.75, 3, 2, 0, 0},
		row{"success", "cid", 0.25, 1, 1, 0, 0},
	)

	// solved_n: count over 28d, no target; the same 8 samples. No roles:
	// eve is eligible, so team sales exists (0 samples, count 0).
	// Baseline 56d: (N−84d, W0] holds 108, 110, 111 (all ana/support) = 3,
	// scaled by window ÷ baseline = 28/56: 1.5.
	e["solved_n"] = expect("solved_n", "28d",
		row{"", "", 8, 8, none, none, 1.5},
		row{"sales", "", 0, 0, none, none, 0},
		row{"success", "", 1, 1, none, none, 0},
		row{"support", "", 5, 5, none, none, 1.5},
		row{"tier2", "", 1, 1, none, none, 0},
	)

	// urgent_solved: count of samples labelled priority=urgent in 28d:
	// 101, 106 (112 deleted, 111 too old) = 2 ≥ 1.
	e["urgent_solved"] = expect("urgent_solved", "28d", row{"", "", 2, 2, 1, 1, none})

	// First reply samples in (W0, N] (value = calendar × 60, at created +
	// calendar minutes):
	//   101 1800 ana/support      102 5400 ana/support     103 10800 ben/support
	//   104 0 ben/support         105 14400 cid/success    106 3600 tier2
	//   107 7200 org only         109 7200 ben/support (created W0−1h, at W0+1h)
	//   202 18000 ben/support     203 1200 cid/success (cid's team beats group 600)
	//   206 1500 eve/sales
	// Out: 108 (at W0−2d+30m), 110, 111; 201, 204, 205, 207 have no reply
	// (calendar null); 112 deleted.
	// org sorted: 0 1200 1500 1800 3600 5400 7200 7200 10800 14400 18000
	// (n=11): p50 h=5 → 5400.
	// support: 0 1800 5400 7200 10800 18000: h=2.5 → 5400+0.5×1800 = 6300.
	// success: 1200 14400: h=0.5 → 7800. tier2: 3600. sales (team of a
	// stored sample, eve's): 1500.
	// ana: 1800 5400 → 3600. ben: 0 7200 10800 18000: h=1.5 → 7200+0.5×3600
	// = 9000. cid: 7800, target person:cid 4h = 14400. eve not eligible
	// (roles). Target 2h = 7200, lower is better.
	e["frt_p50"] = expect("frt_p50", "28d",
		row{"", "", 5400, 11, 7200, 1, none},
		row{"sales", "", 1500, 1, 7200, 1, none},
		row{"success", "", 7800, 2, 7200, 0, none},
		row{"support", "", 6300, 6, 7200, 1, none},
		row{"tier2", "", 3600, 1, 7200, 1, none},
		row{"support", "ana", 3600, 2, 7200, 1, none},
		row{"support", "ben", 9000, 4, 7200, 0, none},
		row{"success", "cid", 7800, 2, 14400, 1, none},
	)

	// frt_sla: share ≤ 2h (7200 included), target 90% = 0.9, higher.
	// org 8/11; support 0,1800,5400,7200 of 6 = 4/6; success 1/2; tier2
	// 1/1; sales 1/1.
	e["frt_sla"] = expect("frt_sla", "28d",
		row{"", "", 8.0 / 11, 11, 0.9, 0, none},
		row{"sales", "", 1, 1, 0.9, 1, none},
		row{"success", "", 0.5, 2, 0.9, 0, none},
		row{"support", "", 4.0 / 6, 6, 0.9, 0, none},
		row{"tier2", "", 1, 1, 0.9, 1, none},
	)

	// frt_mean, 28d: 71100/11. 7d (N−7d, N]: 103 10800 (N−5d+3h), 104 0
	// (N−3d), 107 7200 (N−6d+2h), 202 18000, 203 1200, 206 1500 = 38700/6 =
	// 6450; 106 at N−8d+1h is out.
	// Baseline 28d of the 28d window, (N−56d, W0]: 108 1800 (W0−2d+30m),
	// 110 2700 (N−40d+45m) → mean 2250. Of the 7d window, (N−35d, N−7d]:
	// 101 1800 (N−10d+30m), 102 5400, 105 14400, 106 3600 (N−8d+1h), 109 7200
	// (W0+1h) and 108 1800 (W0−2d+30m = N−30d+30m) = 34200/6 = 5700; 110
	// (N−40d+45m) is out.
	e["frt_mean"] = merge(
		expect("frt_mean", "7d", row{"", "", 6450, 6, none, none, 5700}),
		expect("frt_mean", "28d", row{"", "", 71100.0 / 11, 11, none, none, 2250}),
	)

	// frt_g600: first replies labelled group=360000000600: 106 and 203.
	// The measure's direction (lower) holds for its count too: 2 > 1 → 0.
	e["frt_g600"] = expect("frt_g600", "28d", row{"", "", 2, 2, 1, 0, none})

	// resolution: max full resolution (calendar × 60) at solved_at, in
	// (W0, N]: 101 86400, 102 172800, 103 90000, 104 3600, 109 3600
	// (support); 105 240000 (success); 106 120000 (tier2); 107 18000.
	// org 240000 > 48h = 172800 → 0; support 172800 = target → 1 (≤);
	// success 0; tier2 1; sales: no sample, no value.
	e["resolution"] = expect("resolution", "28d",
		row{"", "", 240000, 8, 172800, 0, none},
		row{"sales", "", none, 0, 172800, none, none},
		row{"success", "", 240000, 1, 172800, 0, none},
		row{"support", "", 172800, 5, 172800, 1, none},
		row{"tier2", "", 120000, 1, 172800, 1, none},
	)

	// reopen: mean of (reopens > 0) at solved_at over the same 8 solved
	// tickets: 102 and 105 (reopens 2) are 1 → org 2/8 = 0.25; support 102 of
	// 101,102,103,104,109 = 0.2; success 1; tier2 0; sales no value.
	// Target 0.1, lower. Baseline (N−56d, W0]: 108 0, 110 1 (both support):
	// 0.5 for org and support; other teams' baseline periods hold no sample:
	// omitted.
	e["reopen"] = expect("reopen", "28d",
		row{"", "", 0.25, 8, 0.1, 0, 0.5},
		row{"sales", "", none, 0, 0.1, none, none},
		row{"success", "", 1, 1, 0.1, 0, none},
		row{"support", "", 0.2, 5, 0.1, 0, 0.5},
		row{"tier2", "", 0, 1, 0.1, 1, none},
	)

	// csat: good 1 / bad 0 at solved_at, else updated_at; offered,
	// unoffered and null are not ratings. In (W0, N]: 101 1 (ana), 102 0
	// (ana), 105 1 (cid), 106 0 (tier2), 107 1 (org), 202 0 (ben; unsolved:
	// at updated_at N−1d). Out: 108 (solved at W0, although updated N−20d),
	// 110 (solved N−39d, updated N−2d), 111; 112 deleted.
	// org 3/6 = 0.5; support 101,102,202 = 1/3; success 1; tier2 0 (target
	// team:tier2 0.5); sales none. No roles: people ana 0.5, ben 0, cid 1,
	// eve (no rating: no value, 0 samples). Target 90%.
	e["csat"] = expect("csat", "28d",
		row{"", "", 0.5, 6, 0.9, 0, none},
		row{"sales", "", none, 0, 0.9, none, none},
		row{"success", "", 1, 1, 0.9, 1, none},
		row{"support", "", 1.0 / 3, 3, 0.9, 0, none},
		row{"tier2", "", 0, 1, 0.5, 0, none},
		row{"sales", "eve", none, 0, 0.9, none, none},
		row{"success", "cid", 1, 1, 0.9, 1, none},
		row{"support", "ana", 0.5, 2, 0.9, 0, none},
		row{"support", "ben", 0, 1, 0.9, 0, none},
	)

	// backlog: the open tickets listed now: 201 (ana), 202 (ben), 203 (cid →
	// success), 204 (anon/600 → tier2; older than the lookback but open),
	// 205 (no assignee, no group → org), 206 (eve → sales). 207 was deleted.
	// org 6 > 3 → 0; support 2; success, tier2, sales 1; ana, ben, cid 1.
	// Target 3, lower.
	e["backlog"] = expect("backlog", "28d",
		row{"", "", 6, 6, 3, 0, none},
		row{"sales", "", 1, 1, 3, 1, none},
		row{"success", "", 1, 1, 3, 1, none},
		row{"support", "", 2, 2, 3, 1, none},
		row{"tier2", "", 1, 1, 3, 1, none},
		row{"success", "cid", 1, 1, 3, 1, none},
		row{"support", "ana", 1, 1, 3, 1, none},
		row{"support", "ben", 1, 1, 3, 1, none},
	)
	// backlog_7d: a snapshot whatever the window: 6 (204 is 110 days old);
	// snapshots "take no baseline" (§4.2): no kpi_baseline although the KPI
	// asks for one.
	e["backlog_7d"] = expect("backlog_7d", "7d", row{"", "", 6, 6, 10, 1, none})
	return e
}

// ---------------------------------------------------------------------------

func TestZendeskKPIs(t *testing.T) {
	users := []user{
		{ID: ana, Name: "Ana", Email: "ana@acme.test"},
		{ID: ben, Name: "Ben", Email: "ben@acme.test"},
		{ID: cid, Name: "Cid", Email: "cid@acme.test"},
		{ID: eve, Name: "Eve", Email: "eve@acme.test"},
	}
	groups := map[int64]string{g500: "Support", g600: "Tier 2", g700: "Billing"}
	zd := newFake(t, dataset(), users, groups)

	d := blackbox.Start(t, strings.Replace(configTemplate, "BASE_URL", zd.srv.URL, 1), N)
	m := d.WaitSynced(t, "zd")

	// Phase 1: 112 (ben, urgent, solved N−1d, reply 15m, csat good) and 207
	// (ben, open) are live.
	phase1 := []struct {
		name string
		kv   []string
		want float64
	}{
		// solved: (13 + 3)/4 = 4 over 9 samples; ben (3 + 3)/4 = 1.5.
		{"kpi_value", []string{"kpi", "solved", "window", "28d"}, 4},
		{"kpi_samples", []string{"kpi", "solved", "window", "28d"}, 9},
		{"kpi_value", []string{"kpi", "solved", "window", "28d", "team", "support", "person", "ben"}, 1.5},
		// csat: 4/7.
		{"kpi_value", []string{"kpi", "csat", "window", "28d"}, 4.0 / 7},
		// first replies: + 900 (ben).
		{"kpi_samples", []string{"kpi", "frt_p50", "window", "28d"}, 12},
		// backlog: 7, ben 2.
		{"kpi_value", []string{"kpi", "backlog", "window", "28d"}, 7},
		{"kpi_value", []string{"kpi", "backlog", "window", "28d", "team", "support", "person", "ben"}, 2},
		{"kpi_value", []string{"kpi", "urgent_solved", "window", "28d"}, 3},
	}
	for _, c := range phase1 {
		if got, ok := m[blackbox.Key(c.name, c.kv...)]; !ok || !near(got, c.want) {
			t.Errorf("phase 1: %s%v = %v (present %v), want %v", c.name, c.kv, got, ok, c.want)
		}
	}

	// Phase 2: 112 and 207 are deleted (they come through the export with
	// status "deleted"; deleted tickets leave the search index).
	zd.update(112, func(tk *ticket) { tk.Status, tk.Updated = "deleted", N.Add(-2*time.Minute) })
	zd.update(207, func(tk *ticket) { tk.Status, tk.Updated = "deleted", N.Add(-90*time.Second) })
	// A sync in flight now may have read the old state; the second one to
	// end from now on started after the change.
	base := d.Scrape(t).Value("kpid_connector_syncs_total", "connector", "zd", "result", "success")
	deadline := time.Now().Add(20 * time.Second)
	for {
		m = d.Scrape(t)
		if m.Value("kpid_connector_syncs_total", "connector", "zd", "result", "success") >= base+2 {
			break
		}
		if m.Value("kpid_connector_syncs_total", "connector", "zd", "result", "error") > 0 {
			t.Fatalf("a later sync failed:\n%s", d.Log())
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new sync after the deletions:\n%s", d.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}

	for kpi, want := range expected() {
		compare(t, kpi, m.KPI(kpi), want)
	}

	// The fake saw what SPEC §3.2 describes.
	zd.mu.Lock()
	defer zd.mu.Unlock()
	if zd.authFailures > 0 {
		t.Errorf("%d requests were refused: basic auth is not %q + token", zd.authFailures, fakeEmail+"/token")
	}
	if len(zd.exportQuery) == 0 || zd.exportQuery[0].Get("start_time") == "" {
		t.Errorf("first export request %v: want start_time", zd.exportQuery)
	} else if st, _ := strconv.ParseInt(zd.exportQuery[0].Get("start_time"), 10, 64); st != N.Add(-100*day).Unix() {
		t.Errorf("first export start_time = %v, want now − lookback = %v", time.Unix(st, 0).UTC(), N.Add(-100*day))
	}
	for _, q := range zd.exportQuery {
		if q.Get("exclude_deleted") != "true" && !strings.Contains(q.Get("include"), "metric_sets") {
			t.Errorf("export request %v without include=metric_sets", q)
		}
	}
	if len(zd.searchQuery) == 0 {
		t.Error("the open tickets were never listed through /api/v2/search/export")
	}
	for _, q := range zd.searchQuery {
		if !strings.Contains(q.Get("query"), "status<solved") {
			t.Errorf("search export query %q: want status<solved", q.Get("query"))
		}
	}
}

// TestZendeskBusinessHours runs the same account (tickets 112 and 207 live)
// through a connector with business_hours: true, against a search export
// that wants SPEC's literal query "type:ticket status<solved".
//
// First reply samples are business minutes × 60, still at created +
// calendar minutes (SPEC §4.1 "at" column). In (W0, N]:
//
//	101 20→1200  102 60→3600  103 100→6000  104 0→0  105 120→7200
//	106 45→2700  107 90→5400  109 30→1800 (at W0−1h+120m = W0+1h; at
//	created + business minutes it would be W0−30m, out)  112 15→900
//	202 151→9060  203 11→660  206 13.5→810
//
// n = 12, sum 39330; sorted 0 660 810 900 1200 1800 2700 3600 5400 6000
// 7200 9060: p50 h = 5.5 → 1800 + 0.5×900 = 2250; ≤ 2h: 11/12.
// Full resolution, business × 60 at solved_at: 101 36000, 102 54000,
// 103 42000, 104 3600, 105 60000, 106 48000, 107 12000, 109 1200,
// 112 7200: n = 9, sum 264000, max 60000.
// Backlog: 201…207 are open: 7.
func TestZendeskBusinessHours(t *testing.T) {
	zd := newFake(t, dataset(), nil, nil)
	zd.specQuery = true
	cfg := `
connectors:
  - name: zdb
    type: zendesk
    schedule: "@every 1h"
    base_url: ` + zd.srv.URL + `
    email: ops@acme.test
    token: s3cr3t-zd-token
    lookback: 100d
    business_hours: true
kpis:
  - {id: frt_sum, measure: zendesk_first_reply_time_seconds, stat: sum, window: 28d, scope: [org]}
  - {id: frt_p50, measure: zendesk_first_reply_time_seconds, stat: p50, window: 28d, scope: [org], target: 40m}
  - {id: frt_sla, measure: zendesk_first_reply_time_seconds, stat: fraction_le, threshold: 2h, window: 28d, scope: [org]}
  - {id: res_sum, measure: zendesk_full_resolution_time_seconds, stat: sum, window: 28d, scope: [org]}
  - {id: res_max, measure: zendesk_full_resolution_time_seconds, stat: max, window: 28d, scope: [org]}
  - {id: solved, measure: zendesk_tickets_solved, stat: sum, window: 28d, scope: [org]}
  - {id: backlog, measure: zendesk_backlog, stat: count, window: 28d, scope: [org]}
`
	d := blackbox.Start(t, cfg, N)
	m := d.WaitSynced(t, "zdb")
	want := map[string]map[string]float64{
		"frt_sum": expect("frt_sum", "28d", row{"", "", 39330, 12, none, none, none}),
		// target 40m = 2400 s; 2250 ≤ 2400 (lower is better).
		"frt_p50": expect("frt_p50", "28d", row{"", "", 2250, 12, 2400, 1, none}),
		"frt_sla": expect("frt_sla", "28d", row{"", "", 11.0 / 12, 12, none, none, none}),
		"res_sum": expect("res_sum", "28d", row{"", "", 264000, 9, none, none, none}),
		"res_max": expect("res_max", "28d", row{"", "", 60000, 9, none, none, none}),
		// default weights (all 1): 101 102 103 104 105 106 107 109 112 = 9.
		"solved":  expect("solved", "28d", row{"", "", 9, 9, none, none, none}),
		"backlog": expect("backlog", "28d", row{"", "", 7, 7, none, none, none}),
	}
	for kpi, w := range want {
		compare(t, kpi, m.KPI(kpi), w)
	}
	zd.mu.Lock()
	defer zd.mu.Unlock()
	var queries []string
	for _, q := range zd.searchQuery {
		queries = append(queries, q.Get("query"))
	}
	t.Logf("search export queries: %q", queries)
	if len(queries) == 0 || queries[len(queries)-1] != "type:ticket status<solved" {
		t.Errorf("search export queries = %q, want the last one SPEC's \"type:ticket status<solved\"", queries)
	}
}
