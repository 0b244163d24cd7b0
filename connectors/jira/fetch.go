package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kpid/kpid/connectors"
)

// Streams (cursor names) of the connector.
const (
	StreamIssues    = "issues"
	StreamWIP       = "wip"
	StreamReconcile = "reconcile"
)

// issuesCursor is the cursor of the "issues" stream, stored as JSON:
//
//	{"since":"2025-05-01T09:12:44.120Z","seen":{"10063":1746090764120}}
//
// Since is the newest `updated` among the issues committed so far. Each
// search asks for `updated >= Since − overlap` (floored to the minute, in
// the JQL time zone) ordered by updated ascending, so a crash between two
// pages resumes at the last committed page without a gap, and an issue the
// search index showed late is still read. Seen holds, for every issue
// committed with `updated` inside that overlap window, its id and updated
// time (Unix milliseconds): an issue coming back with the same updated is
// skipped (no record, no changelog request), one with a newer updated is
// read again. Each page's records and the cursor that covers them are
// committed together, so a page is never committed twice nor skipped.
type issuesCursor struct {
	Since time.Time        `json:"since"`
	Seen  map[string]int64 `json:"seen,omitempty"`
}

// reconcileCursor is the cursor of the "reconcile" stream: when the ids
// the JQL returns were last compared with the stored issues.
type reconcileCursor struct {
	At time.Time `json:"at"`
}

// run is the state of one Fetch.
type run struct {
	c       *Connector
	lk      *lookups
	emit    connectors.EmitFunc
	pending int // requests not yet reported with a page
}

// Fetch reads the issues updated since the stored cursor (or over the
// lookback when full), lists the issues in progress for the WIP snapshot,
// and, every `reconcile`, drops stored issues the JQL no longer returns.
func (c *Connector) Fetch(ctx context.Context, cursors connectors.Cursors, full bool, emit connectors.EmitFunc) error {
	lk, err := c.lookups(ctx)
	if err != nil {
		return err
	}
	r := &run{c: c, lk: lk, emit: emit, pending: lk.requests}
	if err := r.reconcile(ctx, cursors, full); err != nil {
		return err
	}
	if err := r.syncIssues(ctx, cursors, full); err != nil {
		return err
	}
	return r.syncWIP(ctx)
}

// send emits a page, adding the requests made since the last page.
func (r *run) send(ctx context.Context, p connectors.Page, requests int) error {
	p.Requests = r.pending + requests
	r.pending = 0
	if err := r.emit(ctx, p); err != nil {
		return fmt.Errorf("commit jira %s page: %w", p.Stream, err)
	}
	return nil
}

// jqlTime formats an instant for JQL: minute precision, in the zone JQL
// times are read in (the API user's).
func jqlTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006/01/02 15:04")
}

// and joins the configured JQL with a condition.
func and(userJQL, cond string) string {
	if strings.TrimSpace(userJQL) == "" {
		return cond
	}
	return "(" + userJQL + ") AND " + cond
}

// issuesJQL is the incremental search from a lower bound.
func issuesJQL(userJQL string, from time.Time, loc *time.Location) string {
	return and(userJQL, "updated >= '"+jqlTime(from, loc)+"'") + " ORDER BY updated ASC"
}

// wipJQL is the work-in-progress listing.
func wipJQL(cfg *Config) string {
	cond := `statusCategory = "In Progress"`
	if len(cfg.InProgressStatuses) > 0 {
		q := make([]string, len(cfg.InProgressStatuses))
		for i, s := range cfg.InProgressStatuses {
			q[i] = quoteJQL(strings.TrimSpace(s))
		}
		cond = "status in (" + strings.Join(q, ", ") + ")"
	}
	return and(cfg.JQL, cond) + " ORDER BY key ASC"
}

// reconcileJQL lists every issue of the JQL. Jira Cloud refuses unbounded
// queries, so an empty JQL gets a condition every issue meets.
func reconcileJQL(cfg *Config) string {
	if strings.TrimSpace(cfg.JQL) == "" {
		return `created >= "1970-01-01" ORDER BY key ASC`
	}
	return "(" + cfg.JQL + ") ORDER BY key ASC"
}

// quoteJQL quotes a JQL string value.
func quoteJQL(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// searchQuery is one page request of an issue search.
type searchQuery struct {
	jql       string
	fields    []string
	changelog bool
	max       int
	token     string // Cloud: nextPageToken
	startAt   int    // Data Center
}

// searchPage is one page of an issue search.
type searchPage struct {
	issues []apiIssue
	token  string // Cloud: the next page's token
	last   bool
	total  int // Data Center: total matches
}

// search fetches one page: Cloud POST /rest/api/3/search/jql, Data Center
// POST /rest/api/2/search.
func (r *run) search(ctx context.Context, q searchQuery) (searchPage, error) {
	c := r.c
	if c.cfg.Flavor == FlavorDataCenter {
		body := struct {
			JQL        string   `json:"jql"`
			StartAt    int      `json:"startAt"`
			MaxResults int      `json:"maxResults"`
			Fields     []string `json:"fields"`
			Expand     []string `json:"expand,omitempty"`
		}{JQL: q.jql, StartAt: q.startAt, MaxResults: q.max, Fields: q.fields}
		if q.changelog {
			body.Expand = []string{"changelog"}
		}
		var res dcSearchResponse
		if err := c.client.do(ctx, http.MethodPost, "/search", nil, body, &res); err != nil {
			return searchPage{}, searchError(err, c.cfg.Flavor)
		}
		last := len(res.Issues) == 0 || q.startAt+len(res.Issues) >= res.Total
		return searchPage{issues: res.Issues, last: last, total: res.Total}, nil
	}
	body := struct {
		JQL           string   `json:"jql"`
		Fields        []string `json:"fields"`
		Expand        string   `json:"expand,omitempty"`
		MaxResults    int      `json:"maxResults"`
		NextPageToken string   `json:"nextPageToken,omitempty"`
	}{JQL: q.jql, Fields: q.fields, MaxResults: q.max, NextPageToken: q.token}
	if q.changelog {
		body.Expand = "changelog"
	}
	var res cloudSearchResponse
	if err := c.client.do(ctx, http.MethodPost, "/search/jql", nil, body, &res); err != nil {
		return searchPage{}, searchError(err, c.cfg.Flavor)
	}
	last := res.NextPageToken == "" || (res.IsLast != nil && *res.IsLast)
	if res.NextPageToken == q.token && q.token != "" {
		return searchPage{}, fmt.Errorf("POST %s/search/jql: nextPageToken did not advance", c.client.prefix)
	}
	return searchPage{issues: res.Issues, token: res.NextPageToken, last: last}, nil
}

// searchError explains a 410 from a search endpoint.
func searchError(err error, flavor string) error {
	if !errors.Is(err, ErrSearchGone) {
		return err
	}
	if flavor == FlavorDataCenter {
		return fmt.Errorf("%w (this looks like a Jira Cloud site: Atlassian removed this search endpoint from Cloud in 2025; set flavor: cloud)", err)
	}
	return fmt.Errorf("%w (Atlassian removed this search endpoint)", err)
}

// loadIssuesCursor reads the stored cursor; a missing, unreadable or
// ignored (full sync) cursor starts over at now − lookback.
func (r *run) loadIssuesCursor(cursors connectors.Cursors, full bool) (issuesCursor, error) {
	fresh := issuesCursor{Since: r.c.now().Add(-r.c.cfg.Lookback.D()).UTC(), Seen: map[string]int64{}}
	if full {
		return fresh, nil
	}
	raw, err := cursors.Cursor(StreamIssues)
	if err != nil {
		return fresh, fmt.Errorf("read jira issues cursor: %w", err)
	}
	if len(raw) == 0 {
		return fresh, nil
	}
	var cur issuesCursor
	if err := json.Unmarshal(raw, &cur); err != nil || cur.Since.IsZero() {
		r.c.log.Warn("unreadable jira issues cursor, reading the whole lookback again", "stream", StreamIssues)
		return fresh, nil
	}
	if cur.Seen == nil {
		cur.Seen = map[string]int64{}
	}
	return cur, nil
}

// floorMinute is the start of t's minute (JQL's precision).
func floorMinute(t time.Time) time.Time { return t.Truncate(time.Minute) }

// syncIssues walks the issues updated since the cursor, oldest first, and
// commits them page by page with their complete status histories.
//
// Cloud pages with nextPageToken. Data Center pages by keyset: each page
// asks again from the minute of the last issue read (startAt skipping the
// issues of that minute already read), so an issue updated during the walk
// (which moves to the end of the order) cannot shift an unread one out of
// reach of startAt.
func (r *run) syncIssues(ctx context.Context, cursors connectors.Cursors, full bool) error {
	c := r.c
	cur, err := r.loadIssuesCursor(cursors, full)
	if err != nil {
		return err
	}
	fields := append([]string(nil), issueFields...)
	if r.lk.pointsField != "" {
		fields = append(fields, r.lk.pointsField)
	}
	bc := buildContext{flavor: c.cfg.Flavor, statuses: r.lk.statuses, pointsField: r.lk.pointsField, zone: r.lk.zone}

	bound := floorMinute(cur.Since.Add(-overlap))
	q := searchQuery{jql: issuesJQL(c.cfg.JQL, bound, r.lk.jqlLoc(bound)), fields: fields, changelog: true, max: pageSize}
	var walked []time.Time // updated times read in this walk (Data Center keyset)
	restarted := false
	for page := 1; ; page++ {
		res, err := r.search(ctx, q)
		if q.token != "" && !restarted && isBadRequest(err) {
			// Jira refuses a nextPageToken it no longer accepts (expired)
			// with a 400: search again from the cursor's time, committed
			// with the last page; the overlap is deduplicated by Seen.
			restarted = true
			bound = floorMinute(cur.Since.Add(-overlap))
			q.jql, q.token = issuesJQL(c.cfg.JQL, bound, r.lk.jqlLoc(bound)), ""
			c.log.Warn("jira refused the search's next page token; searching again from the stored time",
				"stream", StreamIssues, "endpoint", "POST "+c.client.prefix+"/search/jql", "from", bound, "err", err)
			page--
			continue
		}
		if err != nil {
			return fmt.Errorf("search jira issues page %d: %w", page, err)
		}
		requests := 1
		var fresh []apiIssue
		updated := make([]time.Time, len(res.issues))
		for i, iss := range res.issues {
			t, err := fieldTime(iss.Fields["updated"])
			if err != nil || t.IsZero() {
				return fmt.Errorf("search jira issues page %d: connector %s: issue %s: field updated: invalid or missing", page, c.cfg.Name, iss.Key)
			}
			updated[i] = t
			if ms, ok := cur.Seen[iss.ID]; ok && ms == t.UnixMilli() {
				continue // read before with this very update (overlap)
			}
			fresh = append(fresh, iss)
		}
		histories, n, err := r.completeChangelogs(ctx, fresh)
		requests += n
		if err != nil {
			return fmt.Errorf("complete jira changelogs of issues page %d: %w", page, err)
		}
		records := make([]connectors.Record, 0, len(fresh))
		for _, iss := range fresh {
			h, ok := histories[iss.ID]
			if !ok && iss.Changelog != nil {
				h = iss.Changelog.Histories
			}
			rec, err := buildIssue(iss, h, bc)
			if err != nil {
				return fmt.Errorf("read jira issues page %d: connector %s: %w", page, c.cfg.Name, err)
			}
			records = append(records, rec)
		}
		before, _ := json.Marshal(cur)
		for i, iss := range res.issues {
			if updated[i].After(cur.Since) {
				cur.Since = updated[i].UTC()
			}
			cur.Seen[iss.ID] = updated[i].UnixMilli()
		}
		keepFrom := floorMinute(cur.Since.Add(-overlap)).UnixMilli()
		for id, ms := range cur.Seen {
			if ms < keepFrom {
				delete(cur.Seen, id)
			}
		}
		after, err := json.Marshal(cur)
		if err != nil {
			return fmt.Errorf("encode jira issues cursor: %w", err)
		}
		c.log.Debug("jira issues page", "stream", StreamIssues, "page", page, "issues", len(res.issues), "records", len(records), "requests", requests)
		if len(records) > 0 || string(before) != string(after) {
			if err := r.send(ctx, connectors.Page{Stream: StreamIssues, Records: records, Cursor: after}, requests); err != nil {
				return err
			}
		} else {
			r.pending += requests
		}
		if res.last {
			return nil
		}
		if c.cfg.Flavor != FlavorDataCenter {
			q.token = res.token
			continue
		}
		walked = append(walked, updated...)
		next := floorMinute(updated[len(updated)-1])
		if next.After(bound) {
			bound = next
			q.jql = issuesJQL(c.cfg.JQL, bound, r.lk.jqlLoc(bound))
			kept := walked[:0]
			for _, t := range walked {
				if !t.Before(bound) {
					kept = append(kept, t)
				}
			}
			walked = kept
			q.startAt = len(walked)
		} else {
			q.startAt += len(res.issues)
		}
	}
}

// isBadRequest reports whether err is a 400 answer from Jira.
func isBadRequest(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == http.StatusBadRequest
}

// truncated reports whether an issue's embedded changelog misses
// histories.
func truncated(iss apiIssue) bool {
	cl := iss.Changelog
	return cl == nil || cl.StartAt > 0 || cl.Total > len(cl.Histories)
}

// completeChangelogs fetches the full status history of the issues whose
// embedded changelog is truncated: Cloud POST /rest/api/3/changelog/bulkfetch
// (up to 1000 issues a request, fieldIds ["status"], following
// nextPageToken), Data Center GET /rest/api/2/issue/{key}/changelog paged.
// It returns the histories by issue id and the requests made.
func (r *run) completeChangelogs(ctx context.Context, issues []apiIssue) (map[string][]apiHistory, int, error) {
	var todo []apiIssue
	for _, iss := range issues {
		if truncated(iss) {
			todo = append(todo, iss)
		}
	}
	out := map[string][]apiHistory{}
	if len(todo) == 0 {
		return out, 0, nil
	}
	if r.c.cfg.Flavor == FlavorDataCenter {
		requests := 0
		for _, iss := range todo {
			h, n, err := r.issueChangelog(ctx, iss)
			requests += n
			if err != nil {
				return nil, requests, err
			}
			out[iss.ID] = h
		}
		return out, requests, nil
	}
	requests := 0
	for start := 0; start < len(todo); start += bulkMaxIssues {
		chunk := todo[start:min(start+bulkMaxIssues, len(todo))]
		ids := make([]string, len(chunk))
		for i, iss := range chunk {
			ids[i] = iss.ID
			out[iss.ID] = []apiHistory{} // an issue without status changes gets none back
		}
		token := ""
		for {
			body := struct {
				IssueIDsOrKeys []string `json:"issueIdsOrKeys"`
				FieldIDs       []string `json:"fieldIds"`
				MaxResults     int      `json:"maxResults"`
				NextPageToken  string   `json:"nextPageToken,omitempty"`
			}{IssueIDsOrKeys: ids, FieldIDs: []string{"status"}, MaxResults: bulkPageSize, NextPageToken: token}
			var res bulkChangelogResponse
			if err := r.c.client.do(ctx, http.MethodPost, "/changelog/bulkfetch", nil, body, &res); err != nil {
				return nil, requests, fmt.Errorf("bulk fetch changelogs: %w", err)
			}
			requests++
			for _, l := range res.IssueChangeLogs {
				if _, asked := out[l.IssueID]; asked {
					out[l.IssueID] = append(out[l.IssueID], l.ChangeHistories...)
				}
			}
			if res.NextPageToken == "" {
				break
			}
			if res.NextPageToken == token {
				return nil, requests, errors.New("bulk fetch changelogs: nextPageToken did not advance")
			}
			token = res.NextPageToken
		}
	}
	return out, requests, nil
}

// issueChangelog pages one Data Center issue's changelog. A server without
// the changelog resource (404) gives the issue with expand=changelog
// instead.
func (r *run) issueChangelog(ctx context.Context, iss apiIssue) ([]apiHistory, int, error) {
	ref := iss.Key
	if ref == "" {
		ref = iss.ID
	}
	path := "/issue/" + url.PathEscape(ref) + "/changelog"
	var all []apiHistory
	requests := 0
	for startAt := 0; ; {
		q := url.Values{"startAt": {strconv.Itoa(startAt)}, "maxResults": {strconv.Itoa(changelogPageSize)}}
		var page pageOfChangelogs
		err := r.c.client.do(ctx, http.MethodGet, path, q, nil, &page)
		requests++
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound && startAt == 0 {
			var full apiIssue
			q := url.Values{"fields": {"status"}, "expand": {"changelog"}}
			if err := r.c.client.do(ctx, http.MethodGet, "/issue/"+url.PathEscape(ref), q, nil, &full); err != nil {
				return nil, requests + 1, fmt.Errorf("read issue %s changelog: %w", ref, err)
			}
			requests++
			if full.Changelog == nil {
				return nil, requests, fmt.Errorf("read issue %s changelog: no changelog in the answer", ref)
			}
			return full.Changelog.Histories, requests, nil
		}
		if err != nil {
			return nil, requests, fmt.Errorf("read issue %s changelog at %d: %w", ref, startAt, err)
		}
		all = append(all, page.Values...)
		startAt += len(page.Values)
		if len(page.Values) == 0 || (page.IsLast != nil && *page.IsLast) || (page.IsLast == nil && startAt >= page.Total) {
			return all, requests, nil
		}
	}
}

// syncWIP lists the issues in progress now and replaces the snapshot: the
// last page prunes the open_issue records not listed.
func (r *run) syncWIP(ctx context.Context) error {
	c := r.c
	listed := c.now()
	keep := map[string]struct{}{}
	q := searchQuery{jql: wipJQL(c.cfg), fields: wipFields, max: pageSize}
	for page := 1; ; page++ {
		res, err := r.search(ctx, q)
		if err != nil {
			return fmt.Errorf("search jira issues in progress page %d: %w", page, err)
		}
		records := make([]connectors.Record, 0, len(res.issues))
		for _, iss := range res.issues {
			if _, dup := keep[iss.ID]; dup {
				continue
			}
			rec, err := buildOpenIssue(iss, c.cfg.Flavor, r.lk.statuses, listed)
			if err != nil {
				return fmt.Errorf("read jira issues in progress page %d: connector %s: %w", page, c.cfg.Name, err)
			}
			keep[iss.ID] = struct{}{}
			records = append(records, rec)
		}
		p := connectors.Page{Stream: StreamWIP, Records: records}
		if res.last {
			p.Prune = &connectors.Prune{Kind: KindOpenIssue, Keep: keep}
		}
		if err := r.send(ctx, p, 1); err != nil {
			return err
		}
		if res.last {
			return nil
		}
		q.token = res.token
		q.startAt += len(res.issues)
	}
}

// reconcile, every `reconcile` interval, lists the ids the JQL still
// returns and drops the stored issues that are gone (deleted, moved out of
// the JQL), with their samples. The first run, and a full sync, only set
// the mark. A listing with no issue at all prunes nothing (see below).
func (r *run) reconcile(ctx context.Context, cursors connectors.Cursors, full bool) error {
	c := r.c
	every := c.cfg.Reconcile.D()
	if every <= 0 {
		return nil
	}
	now := c.now()
	mark, err := json.Marshal(reconcileCursor{At: now.UTC()})
	if err != nil {
		return fmt.Errorf("encode jira reconcile cursor: %w", err)
	}
	var last reconcileCursor
	if !full {
		raw, err := cursors.Cursor(StreamReconcile)
		if err != nil {
			return fmt.Errorf("read jira reconcile cursor: %w", err)
		}
		if len(raw) > 0 && json.Unmarshal(raw, &last) != nil {
			last = reconcileCursor{}
		}
	}
	if last.At.IsZero() {
		return r.send(ctx, connectors.Page{Stream: StreamReconcile, Cursor: mark}, 0)
	}
	if now.Sub(last.At) < every {
		return nil
	}
	max := 5000 // Cloud answers up to 5000 issues a page when only ids are asked
	if c.cfg.Flavor == FlavorDataCenter {
		max = 1000 // Data Center's default jira.search.views.default.max
	}
	keep := map[string]struct{}{}
	q := searchQuery{jql: reconcileJQL(c.cfg), fields: []string{"id"}, max: max}
	requests := 0
	for page := 1; ; page++ {
		res, err := r.search(ctx, q)
		if err != nil {
			return fmt.Errorf("reconcile jira issues page %d: %w", page, err)
		}
		requests++
		for _, iss := range res.issues {
			if iss.ID != "" {
				keep[iss.ID] = struct{}{}
			}
		}
		if res.last {
			break
		}
		q.token = res.token
		q.startAt += len(res.issues)
	}
	c.log.Debug("jira reconcile", "stream", StreamReconcile, "issues", len(keep), "requests", requests)
	if len(keep) == 0 {
		// A jql that suddenly selects nothing is far more often a lost
		// permission (or issue security) than every issue gone: keep the
		// stored issues rather than erase their history.
		c.log.Warn("jira reconcile listed no issue, keeping the stored ones", "stream", StreamReconcile)
		return r.send(ctx, connectors.Page{Stream: StreamReconcile, Cursor: mark}, requests)
	}
	return r.send(ctx, connectors.Page{
		Stream: StreamReconcile,
		Cursor: mark,
		Prune:  &connectors.Prune{Kind: KindIssue, Keep: keep},
	}, requests)
}
