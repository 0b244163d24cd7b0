package github

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	gh "github.com/google/go-github/v84/github"

	"github.com/kpid/kpid/connectors"
)

// issuesCursor is the cursor of stream "issues/{owner}/{repo}/{label}"
// (JSON).
//
// GET /repos/{o}/{r}/issues?labels=L&state=all&sort=updated&direction=asc&since=S
// is read oldest update first. Paging by page number is not safe on a list
// sorted by updated_at (an issue updated meanwhile moves to the end and
// shifts the rest, so one would be skipped), so after every full page the
// query restarts with since = the page's last updated_at (`since` is
// inclusive: the boundary issues are read twice and upserted idempotently).
// Since is the `since` of the last request made, Max the newest updated_at
// seen and ETag the answer's ETag to that last request. The next run starts
// at min(Since, Max − overlap): when nothing changed this is the same
// request as the last one, asked with If-None-Match, and answered 304.
type issuesCursor struct {
	Since time.Time `json:"since"`
	Max   time.Time `json:"max,omitempty"`
	ETag  string    `json:"etag,omitempty"`
}

func issuesStream(repo, label string) string { return "issues/" + repo + "/" + label }

// reconcileStream is the reconcileCursor of the labelled issues: when they
// were last listed in full to prune the stored ones that no longer carry a
// tracked label (or are gone).
func reconcileStream(repo string) string { return "issues_reconcile/" + repo }

// syncIssues reads the issues carrying one label updated since the cursor.
func (c *Connector) syncIssues(ctx context.Context, repo, label string, cursors connectors.Cursors, full bool, emit emitter) error {
	stream := issuesStream(repo, label)
	var cur issuesCursor
	found, err := c.readCursor(cursors, stream, full, &cur)
	if err != nil {
		return err
	}
	since := c.lookbackStart().UTC().Truncate(time.Second)
	etag := ""
	if found {
		since = cur.Since
		if !cur.Max.IsZero() {
			if m := cur.Max.Add(-overlap); m.Before(since) {
				since = m
			}
		}
		if since.Equal(cur.Since) {
			etag = cur.ETag
		}
	}
	max := cur.Max
	path := repoPath(repo) + "/issues"
	for page := 1; ; {
		q := url.Values{
			"labels": {label}, "state": {"all"}, "sort": {"updated"}, "direction": {"asc"},
			"since": {since.UTC().Format(time.RFC3339)}, "per_page": {fmt.Sprint(perPage)}, "page": {fmt.Sprint(page)},
		}
		var list []*gh.Issue
		resp, notModified, err := c.get(ctx, path, q, etag, &list)
		if err != nil {
			return fmt.Errorf("list issues labelled %q since %s: %w", label, since.Format(time.RFC3339), err)
		}
		if notModified {
			return nil
		}
		etag = ""
		var records []connectors.Record
		last := since
		// ascending: the page is in the order asked for (oldest update
		// first). Restarting at its last updated_at is only safe then: a
		// listing in another order (an upstream ignoring sort) would skip
		// every issue of the later pages older than that.
		ascending := true
		for i, is := range list {
			updated := tsValue(is.UpdatedAt)
			if i > 0 && updated.Before(tsValue(list[i-1].UpdatedAt)) {
				ascending = false
			}
			if updated.After(last) {
				last = updated
			}
			if updated.After(max) {
				max = updated
			}
			if is.IsPullRequest() {
				continue
			}
			rec, err := c.issueRecord(repo, is)
			if err != nil {
				return err
			}
			records = append(records, rec)
		}
		next := issuesCursor{Since: since, Max: max}
		if page == 1 {
			next.ETag = resp.Header.Get("ETag")
		}
		data, err := json.Marshal(next)
		if err != nil {
			return fmt.Errorf("encode cursor %s: %w", stream, err)
		}
		if err := emit(ctx, connectors.Page{Stream: stream, Records: records, Cursor: data, Requests: 1}); err != nil {
			return err
		}
		if resp.NextPage == 0 {
			return nil
		}
		if ascending && last.After(since) {
			since, page = last, 1
		} else {
			// A full page of issues updated in the same second, or a
			// listing not sorted as asked: page on.
			page = resp.NextPage
		}
	}
}

func issueID(repo string, n int) string { return fmt.Sprintf("%s#%d", repo, n) }

// issueRecord reduces an issue to what the normaliser reads: times, state
// and its incident/bug labels.
func (c *Connector) issueRecord(repo string, is *gh.Issue) (connectors.Record, error) {
	rec := issueRecord{
		Repo:      repo,
		Number:    is.GetNumber(),
		State:     is.GetState(),
		CreatedAt: tsValue(is.CreatedAt),
		UpdatedAt: tsValue(is.UpdatedAt),
		ClosedAt:  ts(is.ClosedAt),
	}
	for _, l := range is.Labels {
		name := l.GetName()
		key := strings.ToLower(name)
		_, incident := c.incidentLabels[key]
		_, bug := c.bugLabels[key]
		if incident || bug {
			rec.Labels = append(rec.Labels, name)
		}
	}
	sort.Strings(rec.Labels)
	data, err := json.Marshal(rec)
	if err != nil {
		return connectors.Record{}, fmt.Errorf("encode issue record %s: %w", issueID(repo, rec.Number), err)
	}
	return connectors.Record{Kind: KindIssue, ID: issueID(repo, rec.Number), Updated: rec.UpdatedAt, Data: data}, nil
}

// reconcileIssues lists, every `reconcile`, the ids of all issues carrying a
// tracked label and prunes the stored issues of the repository that are not
// among them (a label removed, an issue deleted or transferred). The first
// run only records the time: the incremental listing it just made is
// complete.
func (c *Connector) reconcileIssues(ctx context.Context, repo string, cursors connectors.Cursors, emit emitter) error {
	if c.cfg.Reconcile <= 0 {
		return nil
	}
	stream := reconcileStream(repo)
	var cur reconcileCursor
	found, err := c.readCursor(cursors, stream, false, &cur)
	if err != nil {
		return err
	}
	now := c.now().UTC()
	if found && now.Sub(cur.At) < c.cfg.Reconcile.D() {
		return nil
	}
	data, err := json.Marshal(reconcileCursor{At: now})
	if err != nil {
		return fmt.Errorf("encode cursor %s: %w", stream, err)
	}
	if !found {
		return emit(ctx, connectors.Page{Stream: stream, Cursor: data})
	}
	keep := map[string]struct{}{}
	requests := 0
	path := repoPath(repo) + "/issues"
	for _, label := range c.issueLabels() {
		for page := 1; page != 0; {
			q := url.Values{"labels": {label}, "state": {"all"}, "per_page": {fmt.Sprint(perPage)}, "page": {fmt.Sprint(page)}}
			var list []*gh.Issue
			resp, _, err := c.get(ctx, path, q, "", &list)
			requests++
			if err != nil {
				return fmt.Errorf("reconcile issues labelled %q page %d: %w", label, page, err)
			}
			for _, is := range list {
				if !is.IsPullRequest() {
					keep[issueID(repo, is.GetNumber())] = struct{}{}
				}
			}
			page = resp.NextPage
		}
	}
	return emit(ctx, connectors.Page{
		Stream: stream, Cursor: data, Requests: requests,
		Prune: &connectors.Prune{Kind: KindIssue, Prefix: repo + "#", Keep: keep},
	})
}
