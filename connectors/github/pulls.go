package github

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	gh "github.com/google/go-github/v84/github"

	"github.com/kpid/kpid/connectors"
)

// pullsCursor is the cursor of stream "pulls/{owner}/{repo}" (JSON).
//
// The listing GET /repos/{o}/{r}/pulls?state=all&sort=updated&direction=desc
// can only be read newest first, so the cursor keeps two marks (SPEC §3):
//
//   - HighWater, ETag and Seen describe the last complete walk: the newest
//     updated_at it saw, the ETag of its first page (page 1 of the next walk
//     is conditional on it: 304 means no pull request changed) and the pull
//     requests it saw within `overlap` of HighWater with their updated_at.
//     The next walk stops at HighWater − overlap; a pull request it re-sees
//     there with the same updated_at is skipped (no record, no review call).
//   - Walk is the walk in progress: its stop time, the new marks it will
//     commit when it completes, and the next page to read. Every page's
//     records are committed with the Walk advanced past them, so a crash
//     resumes at the next page and never skips the walk's tail; the complete
//     marks only move when the walk reaches Stop.
//   - Fresh and Untracked serve the reconcile of deleted pull requests
//     (reconcile.go): Fresh lists the pull requests stored by incremental
//     walks since the last reconcile, committed with their records;
//     Untracked says a walk down to the lookback horizon (first sync,
//     --full, a cursor older than the lookback) stored pull requests without
//     listing them, so the next reconcile must list them itself. Both are
//     cleared by the reconcile that has taken them into account, and kept
//     by a --full sync.
type pullsCursor struct {
	HighWater time.Time  `json:"high_water,omitempty"`
	ETag      string     `json:"etag,omitempty"`
	Seen      []seenPull `json:"seen,omitempty"`
	Walk      *pullsWalk `json:"walk,omitempty"`
	Fresh     []mark     `json:"fresh,omitempty"`
	Untracked bool       `json:"untracked,omitempty"`
}

type pullsWalk struct {
	Stop         time.Time  `json:"stop"`
	NewHighWater time.Time  `json:"new_high_water"`
	NewETag      string     `json:"new_etag,omitempty"`
	Page         int        `json:"page"`
	Seen         []seenPull `json:"seen,omitempty"`
	// Horizon marks a walk down to the lookback horizon: it does not list
	// what it stores in Fresh (it may be the whole lookback).
	Horizon bool `json:"horizon,omitempty"`
	// Fresh lists what the committed pages of an incremental walk stored.
	Fresh []mark `json:"fresh,omitempty"`
}

type seenPull struct {
	Number  int       `json:"n"`
	Updated time.Time `json:"u"`
}

func pullsStream(repo string) string     { return "pulls/" + repo }
func openPullsStream(repo string) string { return "open_pulls/" + repo }
func pullID(repo string, n int) string   { return fmt.Sprintf("%s#%d", repo, n) }

// pullsResult is what a pulls walk tells the rest of the run.
type pullsResult struct {
	// unchanged: page 1 answered 304 (no pull request changed).
	unchanged bool
	// walked lists every pull request within the lookback (number,
	// updated_at) when this run made a complete walk down to the lookback
	// horizon from its first page. The reconcile takes it as its listing
	// instead of asking again.
	walked listing
}

// syncPulls walks the pull requests updated since the last complete walk.
func (c *Connector) syncPulls(ctx context.Context, repo string, cursors connectors.Cursors, full bool, emit emitter) (pullsResult, error) {
	stream := pullsStream(repo)
	var cur pullsCursor
	if _, err := c.readCursor(cursors, stream, false, &cur); err != nil {
		return pullsResult{}, err
	}
	if full {
		// A full walk starts afresh but keeps what the reconcile still has
		// to check.
		cur = pullsCursor{Fresh: cur.Fresh, Untracked: cur.Untracked}
	}
	track := c.cfg.Reconcile > 0
	horizon := c.lookbackStart()
	walk := cur.Walk
	resumed := walk != nil
	if walk == nil {
		stop := horizon
		if !cur.HighWater.IsZero() {
			if hw := cur.HighWater.Add(-overlap); hw.After(stop) {
				stop = hw
			}
		}
		walk = &pullsWalk{Stop: stop, Page: 1, Horizon: !stop.After(horizon)}
	}
	if walk.Horizon && track {
		cur.Untracked = true
	}
	var walked []mark
	seen := make(map[int]time.Time, len(cur.Seen))
	for _, s := range cur.Seen {
		seen[s.Number] = s.Updated
	}

	path := repoPath(repo) + "/pulls"
	var order newestFirst
	for {
		etag := ""
		if walk.Page == 1 && cur.Walk == nil {
			etag = cur.ETag
		}
		q := url.Values{
			"state": {"all"}, "sort": {"updated"}, "direction": {"desc"},
			"per_page": {fmt.Sprint(perPage)}, "page": {fmt.Sprint(walk.Page)},
		}
		var list []*gh.PullRequest
		resp, notModified, err := c.get(ctx, path, q, etag, &list)
		if err != nil {
			return pullsResult{}, fmt.Errorf("list pulls page %d: %w", walk.Page, err)
		}
		if notModified {
			return pullsResult{unchanged: true}, nil
		}
		if walk.Page == 1 && walk.NewETag == "" {
			walk.NewETag = resp.Header.Get("ETag")
		}
		requests := 1
		var records []connectors.Record
		for _, pr := range list {
			updated := tsValue(pr.UpdatedAt)
			order.see(updated.UnixNano())
			if updated.Before(walk.Stop) {
				order.past = true
				continue
			}
			if updated.After(walk.NewHighWater) {
				walk.NewHighWater = updated
			}
			n := pr.GetNumber()
			walked = append(walked, mark{N: int64(n), T: updated.Unix()})
			prev, known := seen[n]
			if known && prev.Equal(updated) {
				walk.Seen = append(walk.Seen, seenPull{n, updated})
				continue
			}
			rec, calls, err := c.pullRecord(ctx, repo, pr)
			if err != nil {
				return pullsResult{}, err
			}
			requests += calls
			records = append(records, rec)
			walk.Seen = append(walk.Seen, seenPull{n, updated})
			if track && !walk.Horizon {
				walk.Fresh = append(walk.Fresh, mark{N: int64(n), T: updated.Unix()})
			}
		}
		walk.Seen = trimSeen(walk.Seen, walk.NewHighWater)
		if order.stop() || resp.NextPage == 0 {
			next := pullsCursor{HighWater: walk.NewHighWater, ETag: walk.NewETag, Seen: walk.Seen}
			if next.HighWater.IsZero() {
				// An empty walk: keep the previous mark so the overlap stays.
				next.HighWater = cur.HighWater
				next.Seen = cur.Seen
			}
			if track {
				next.Fresh = mergeMarks(horizon, cur.Fresh, walk.Fresh)
				next.Untracked = cur.Untracked
			}
			data, err := json.Marshal(next)
			if err != nil {
				return pullsResult{}, fmt.Errorf("encode cursor %s: %w", stream, err)
			}
			res := pullsResult{}
			if walk.Horizon && !resumed {
				res.walked = listing{marks: mergeMarks(horizon, walked), complete: true}
			}
			return res, emit(ctx, connectors.Page{Stream: stream, Records: records, Cursor: data, Requests: requests})
		}
		walk.Page = resp.NextPage
		cur.Walk = walk
		data, err := json.Marshal(cur)
		if err != nil {
			return pullsResult{}, fmt.Errorf("encode cursor %s: %w", stream, err)
		}
		if err := emit(ctx, connectors.Page{Stream: stream, Records: records, Cursor: data, Requests: requests}); err != nil {
			return pullsResult{}, err
		}
	}
}

// trimSeen keeps the pull requests within overlap of the high-water mark:
// the only ones the next walk can re-see.
func trimSeen(list []seenPull, high time.Time) []seenPull {
	limit := high.Add(-overlap)
	out := list[:0]
	idx := map[int]int{}
	for _, s := range list {
		if s.Updated.Before(limit) {
			continue
		}
		if i, ok := idx[s.Number]; ok {
			out[i] = s
			continue
		}
		idx[s.Number] = len(out)
		out = append(out, s)
	}
	return out
}

// pullRecord builds the record of one listed pull request, reading the
// reviews of a merged one. calls is the number of review requests made.
func (c *Connector) pullRecord(ctx context.Context, repo string, pr *gh.PullRequest) (connectors.Record, int, error) {
	p := pullFromAPI(repo, pr)
	calls := 0
	if p.MergedAt != nil {
		reviews, n, err := c.reviews(ctx, repo, p.Number)
		calls = n
		if err != nil {
			return connectors.Record{}, calls, err
		}
		p.Reviews = reviews
	}
	data, err := json.Marshal(p)
	if err != nil {
		return connectors.Record{}, calls, fmt.Errorf("encode pull record %s: %w", pullID(repo, p.Number), err)
	}
	return connectors.Record{Kind: KindPull, ID: pullID(repo, p.Number), Updated: p.UpdatedAt, Data: data}, calls, nil
}

// pullFromAPI reduces a listed pull request to what the normaliser reads.
func pullFromAPI(repo string, pr *gh.PullRequest) pullRecord {
	return pullRecord{
		Repo:       repo,
		Number:     pr.GetNumber(),
		Author:     pr.GetUser().GetLogin(),
		AuthorType: pr.GetUser().GetType(),
		State:      pr.GetState(),
		Draft:      pr.GetDraft(),
		CreatedAt:  tsValue(pr.CreatedAt),
		UpdatedAt:  tsValue(pr.UpdatedAt),
		ClosedAt:   ts(pr.ClosedAt),
		MergedAt:   ts(pr.MergedAt),
	}
}

// reviews lists a pull request's reviews, every page.
func (c *Connector) reviews(ctx context.Context, repo string, number int) ([]reviewInfo, int, error) {
	path := fmt.Sprintf("%s/pulls/%d/reviews", repoPath(repo), number)
	var out []reviewInfo
	calls := 0
	for page := 1; page != 0; {
		q := url.Values{"per_page": {fmt.Sprint(perPage)}, "page": {fmt.Sprint(page)}}
		var list []*gh.PullRequestReview
		resp, _, err := c.get(ctx, path, q, "", &list)
		calls++
		if err != nil {
			return nil, calls, fmt.Errorf("list reviews of pull %d page %d: %w", number, page, err)
		}
		out = append(out, reviewsFromAPI(list)...)
		page = resp.NextPage
	}
	return out, calls, nil
}

func reviewsFromAPI(list []*gh.PullRequestReview) []reviewInfo {
	out := make([]reviewInfo, 0, len(list))
	for _, r := range list {
		out = append(out, reviewInfo{
			User:        r.GetUser().GetLogin(),
			UserType:    r.GetUser().GetType(),
			State:       r.GetState(),
			SubmittedAt: ts(r.SubmittedAt),
		})
	}
	return out
}

// openCursor is the cursor of stream "open_pulls/{owner}/{repo}" (JSON):
// the ETag of page 1 of the last complete listing of open pull requests,
// its number of pages and when it was made. Page 1 is conditional: a 304
// means the open set is unchanged when the listing fits one page, or when
// the pulls walk of the same run also answered 304 (no pull request changed
// at all); otherwise every page is read again. The listing is redone
// unconditionally every `reconcile`, so the open records' listing time (and
// retention) stays fresh.
type openCursor struct {
	ETag     string    `json:"etag,omitempty"`
	Pages    int       `json:"pages,omitempty"`
	ListedAt time.Time `json:"listed_at,omitempty"`
}

// syncOpenPulls lists every open pull request into "open_pull" records and
// prunes the ones no longer open.
func (c *Connector) syncOpenPulls(ctx context.Context, repo string, cursors connectors.Cursors, full, pullsUnchanged bool, emit emitter) error {
	stream := openPullsStream(repo)
	var cur openCursor
	if _, err := c.readCursor(cursors, stream, full, &cur); err != nil {
		return err
	}
	now := c.now().UTC()
	etag := ""
	if cur.ETag != "" && (cur.Pages <= 1 || pullsUnchanged) &&
		(c.cfg.Reconcile <= 0 || now.Sub(cur.ListedAt) < c.cfg.Reconcile.D()) {
		etag = cur.ETag
	}
	path := repoPath(repo) + "/pulls"
	keep := map[string]struct{}{}
	next := openCursor{ListedAt: now}
	for page := 1; ; {
		q := url.Values{"state": {"open"}, "per_page": {fmt.Sprint(perPage)}, "page": {fmt.Sprint(page)}}
		var list []*gh.PullRequest
		resp, notModified, err := c.get(ctx, path, q, etag, &list)
		if err != nil {
			return fmt.Errorf("list open pulls page %d: %w", page, err)
		}
		if notModified {
			return nil
		}
		etag = ""
		if page == 1 {
			next.ETag = resp.Header.Get("ETag")
		}
		next.Pages++
		records := make([]connectors.Record, 0, len(list))
		for _, pr := range list {
			if s := pr.GetState(); s != "" && s != "open" {
				continue // not what was asked for (an upstream ignoring the filter)
			}
			p := pullFromAPI(repo, pr)
			p.ListedAt = now
			data, err := json.Marshal(p)
			if err != nil {
				return fmt.Errorf("encode open pull record %s: %w", pullID(repo, p.Number), err)
			}
			id := pullID(repo, p.Number)
			keep[id] = struct{}{}
			records = append(records, connectors.Record{Kind: KindOpenPull, ID: id, Updated: now, Data: data})
		}
		pg := connectors.Page{Stream: stream, Records: records, Requests: 1}
		if resp.NextPage == 0 {
			data, err := json.Marshal(next)
			if err != nil {
				return fmt.Errorf("encode cursor %s: %w", stream, err)
			}
			pg.Cursor = data
			pg.Prune = &connectors.Prune{Kind: KindOpenPull, Prefix: repo + "#", Keep: keep}
			return emit(ctx, pg)
		}
		if err := emit(ctx, pg); err != nil {
			return err
		}
		page = resp.NextPage
	}
}
