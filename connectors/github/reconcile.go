package github

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"time"

	gh "github.com/google/go-github/v84/github"

	"github.com/kpid/kpid/connectors"
)

// Reconcile of deleted pull requests and deployments.
//
// Pull requests and deployments are read newest first down to a mark, so a
// walk never sees one that is deleted (DELETE
// /repos/{o}/{r}/deployments/{id}; pull requests of a repository removed by
// GitHub Support). Every `reconcile` interval the connector therefore lists
// the ones upstream still returns within the lookback (the walk's own
// listing: pulls by updated_at, deployments per production environment,
// newest first) and compares them with a ledger of what it may have stored:
// the previous reconcile's listing (reconcileCursor.Known) plus what the
// walks stored since (the stream cursor's Fresh). An item of the ledger that
// is within the lookback but missing from the listing is confirmed with one
// GET of the item itself (a listing paged while items are updated can skip
// one); a 404 removes its record and samples (a Record with Deleted). Items
// older than the lookback cannot be listed cheaply and are never removed
// here: stored history stays until retention.
//
// The ledger costs no request: a walk down to the lookback horizon (first
// sync, --full) is itself the listing, and later walks add what they store
// to Fresh in the transaction of their records. When there is no complete
// walk to take as the listing (a first walk interrupted and resumed by a
// later run, or a store written before this ledger existed), the first
// reconcile only records the time and the next one lists the stream: a
// deletion in between is caught only if its item was stored since.

// mark is an item a reconcile may have to check: a pull request number or a
// deployment id, with the time (Unix seconds) that places it in the lookback
// (pull request: updated_at; deployment: created_at).
type mark struct {
	N int64 `json:"n"`
	T int64 `json:"t"`
}

// listing is what a walk listed within the lookback; complete is set only
// for a walk down to the lookback horizon made entirely by this run.
type listing struct {
	marks    []mark
	complete bool
}

// mergeMarks returns the union of lists by N, keeping the latest T, without
// the items older than horizon, sorted by N.
func mergeMarks(horizon time.Time, lists ...[]mark) []mark {
	floor := horizon.Unix()
	by := map[int64]int64{}
	for _, l := range lists {
		for _, m := range l {
			if t, ok := by[m.N]; !ok || m.T > t {
				by[m.N] = m.T
			}
		}
	}
	out := make([]mark, 0, len(by))
	for n, t := range by {
		if t >= floor {
			out = append(out, mark{N: n, T: t})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].N < out[j].N })
	return out
}

// reconcileCursor is the cursor of the reconcile streams: when the stream
// was last listed in full and, for pull requests and deployments, what
// that listing returned (Known).
type reconcileCursor struct {
	At    time.Time `json:"at"`
	Known []mark    `json:"known,omitempty"`
}

func pullsReconcileStream(repo string) string { return "pulls_reconcile/" + repo }
func deployReconcileStream(repo, env string) string {
	return "deployments_reconcile/" + repo + "/" + env
}

// itemReconcile describes the reconcile of one stream.
type itemReconcile struct {
	stream    string   // the reconcile cursor
	what      string   // for errors and logs
	repo      string   // for logs
	kinds     []string // record kinds removed for a deleted item
	id        func(n int64) string
	fresh     []mark  // the stream cursor's Fresh
	untracked bool    // the stream cursor's Untracked
	walked    listing // this run's walk, when complete
	// list returns the items upstream still has within the lookback.
	list func(ctx context.Context, horizon time.Time) ([]mark, int, error)
	// exists asks for one item: false when upstream answers 404.
	exists func(ctx context.Context, n int64) (bool, error)
	// clear commits the stream cursor without Fresh and Untracked.
	clear func(ctx context.Context) error
}

// reconcileItems runs one stream's reconcile when it is due: every
// `reconcile`, and at no cost right after a complete walk down to the
// lookback horizon (which also starts the ledger on a first sync).
func (c *Connector) reconcileItems(ctx context.Context, r itemReconcile, cursors connectors.Cursors, emit emitter) error {
	if c.cfg.Reconcile <= 0 {
		return nil
	}
	var cur reconcileCursor
	found, err := c.readCursor(cursors, r.stream, false, &cur)
	if err != nil {
		return err
	}
	now := c.now().UTC()
	due := !found || now.Sub(cur.At) >= c.cfg.Reconcile.D() || (r.untracked && r.walked.complete)
	if !due {
		return nil
	}
	horizon := c.lookbackStart()
	if !found && !r.walked.complete {
		// The first run after an interrupted first walk, or after an
		// upgrade: only record the time. The next reconcile lists the
		// stream and takes what is stored since as its ledger.
		data, err := json.Marshal(reconcileCursor{At: now})
		if err != nil {
			return fmt.Errorf("encode cursor %s: %w", r.stream, err)
		}
		return emit(ctx, connectors.Page{Stream: r.stream, Cursor: data})
	}
	listed, requests := r.walked.marks, 0
	if !r.walked.complete {
		listed, requests, err = r.list(ctx, horizon)
		if err != nil {
			return err
		}
	}
	still := make(map[int64]bool, len(listed))
	for _, m := range listed {
		still[m.N] = true
	}
	var (
		records []connectors.Record
		kept    []mark
	)
	for _, m := range mergeMarks(horizon, cur.Known, r.fresh) {
		if still[m.N] {
			continue
		}
		ok, err := r.exists(ctx, m.N)
		requests++
		if err != nil {
			return fmt.Errorf("reconcile %s: %w", r.what, err)
		}
		if ok {
			// Listed elsewhere than expected (the listing moved while it
			// was paged): check it again next time.
			kept = append(kept, m)
			continue
		}
		for _, kind := range r.kinds {
			records = append(records, connectors.Record{Kind: kind, ID: r.id(m.N), Deleted: true})
		}
	}
	data, err := json.Marshal(reconcileCursor{At: now, Known: mergeMarks(horizon, listed, kept)})
	if err != nil {
		return fmt.Errorf("encode cursor %s: %w", r.stream, err)
	}
	if len(records) > 0 {
		c.log.Info("reconcile removed items deleted upstream", "repo", r.repo, "items", r.what, "deleted", len(records)/len(r.kinds))
	}
	if err := emit(ctx, connectors.Page{Stream: r.stream, Records: records, Cursor: data, Requests: requests}); err != nil {
		return err
	}
	if len(r.fresh) > 0 || r.untracked {
		return r.clear(ctx)
	}
	return nil
}

// reconcilePulls removes the stored pull requests (and their open-snapshot
// records) that GitHub no longer returns.
func (c *Connector) reconcilePulls(ctx context.Context, repo string, cursors connectors.Cursors, walked listing, emit emitter) error {
	if c.cfg.Reconcile <= 0 {
		return nil
	}
	stream := pullsStream(repo)
	var pc pullsCursor
	if _, err := c.readCursor(cursors, stream, false, &pc); err != nil {
		return err
	}
	path := repoPath(repo) + "/pulls"
	return c.reconcileItems(ctx, itemReconcile{
		stream: pullsReconcileStream(repo), what: "pull requests", repo: repo,
		kinds: []string{KindPull, KindOpenPull},
		id:    func(n int64) string { return pullID(repo, int(n)) },
		fresh: pc.Fresh, untracked: pc.Untracked, walked: walked,
		list: func(ctx context.Context, horizon time.Time) ([]mark, int, error) {
			var out []mark
			var order newestFirst
			requests := 0
			for page := 1; page != 0; {
				q := url.Values{
					"state": {"all"}, "sort": {"updated"}, "direction": {"desc"},
					"per_page": {fmt.Sprint(perPage)}, "page": {fmt.Sprint(page)},
				}
				var list []*gh.PullRequest
				resp, _, err := c.get(ctx, path, q, "", &list)
				requests++
				if err != nil {
					return nil, requests, fmt.Errorf("reconcile pulls page %d: %w", page, err)
				}
				page = resp.NextPage
				for _, pr := range list {
					updated := tsValue(pr.UpdatedAt)
					order.see(updated.UnixNano())
					if updated.Before(horizon) {
						order.past = true
						continue
					}
					out = append(out, mark{N: int64(pr.GetNumber()), T: updated.Unix()})
				}
				if order.stop() {
					page = 0
				}
			}
			return out, requests, nil
		},
		exists: func(ctx context.Context, n int64) (bool, error) {
			var pr gh.PullRequest
			_, _, err := c.get(ctx, fmt.Sprintf("%s/%d", path, n), nil, "", &pr)
			return existence(err)
		},
		clear: func(ctx context.Context) error {
			pc.Fresh, pc.Untracked = nil, false
			data, err := json.Marshal(pc)
			if err != nil {
				return fmt.Errorf("encode cursor %s: %w", stream, err)
			}
			return emit(ctx, connectors.Page{Stream: stream, Cursor: data})
		},
	}, cursors, emit)
}

// reconcileDeployments removes the stored deployments to one production
// environment that GitHub no longer returns.
func (c *Connector) reconcileDeployments(ctx context.Context, repo, env string, cursors connectors.Cursors, walked listing, emit emitter) error {
	if c.cfg.Reconcile <= 0 {
		return nil
	}
	stream := deployStream(repo, env)
	var dc deployCursor
	if _, err := c.readCursor(cursors, stream, false, &dc); err != nil {
		return err
	}
	path := repoPath(repo) + "/deployments"
	return c.reconcileItems(ctx, itemReconcile{
		stream: deployReconcileStream(repo, env), what: "deployments to " + env, repo: repo,
		kinds: []string{KindDeployment},
		id:    func(n int64) string { return deployID(repo, n) },
		fresh: dc.Fresh, untracked: dc.Untracked, walked: walked,
		list: func(ctx context.Context, horizon time.Time) ([]mark, int, error) {
			var out []mark
			var order newestFirst
			requests := 0
			for page := 1; page != 0; {
				q := url.Values{"environment": {env}, "per_page": {fmt.Sprint(perPage)}, "page": {fmt.Sprint(page)}}
				var list []*gh.Deployment
				resp, _, err := c.get(ctx, path, q, "", &list)
				requests++
				if err != nil {
					return nil, requests, fmt.Errorf("reconcile deployments to %s page %d: %w", env, page, err)
				}
				page = resp.NextPage
				for _, d := range list {
					created := tsValue(d.CreatedAt)
					order.see(d.GetID())
					if created.Before(horizon) {
						order.past = true
						continue
					}
					out = append(out, mark{N: d.GetID(), T: created.Unix()})
				}
				if order.stop() {
					page = 0
				}
			}
			return out, requests, nil
		},
		exists: func(ctx context.Context, id int64) (bool, error) {
			var d gh.Deployment
			_, _, err := c.get(ctx, fmt.Sprintf("%s/%d", path, id), nil, "", &d)
			return existence(err)
		},
		clear: func(ctx context.Context) error {
			dc.Fresh, dc.Untracked = nil, false
			data, err := json.Marshal(dc)
			if err != nil {
				return fmt.Errorf("encode cursor %s: %w", stream, err)
			}
			return emit(ctx, connectors.Page{Stream: stream, Cursor: data})
		},
	}, cursors, emit)
}

// existence reads the answer to a GET of one item: found, gone (404), or
// an error.
func existence(err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	default:
		return false, err
	}
}

// reposCursor is the cursor of stream "repos": the repositories the last
// run synced.
type reposCursor struct {
	Repos []string `json:"repos"`
}

const reposStream = "repos"

// forgetRepos handles repositories that are no longer synced (gone from
// "org/*" discovery because they were deleted, archived or transferred, or
// removed from repos / added to exclude_repos): their stored history
// (pull requests, deployments, issues) stays until retention prunes it, but
// their open pull requests leave the github_prs_open snapshot, which
// describes now (retention never prunes snapshot records). Their open
// listing's cursor is reset, so the snapshot is complete again at once if
// the repository comes back.
func (c *Connector) forgetRepos(ctx context.Context, repos []string, cursors connectors.Cursors, emit emitter) error {
	var cur reposCursor
	found, err := c.readCursor(cursors, reposStream, false, &cur)
	if err != nil {
		return err
	}
	var gone []string
	for _, r := range cur.Repos {
		if !slices.Contains(repos, r) {
			gone = append(gone, r)
		}
	}
	sorted := slices.Sorted(slices.Values(repos))
	if found && len(gone) == 0 && slices.Equal(slices.Sorted(slices.Values(cur.Repos)), sorted) {
		return nil
	}
	for i, r := range gone {
		c.log.Info("repository no longer synced: its open pull requests leave the snapshot, its history stays until retention", "repo", r)
		if err := emit(ctx, connectors.Page{
			Stream: openPullsStream(r), Cursor: []byte("{}"),
			Prune: &connectors.Prune{Kind: KindOpenPull, Prefix: r + "#"},
		}); err != nil {
			return err
		}
		// The repositories still to forget stay in the cursor until done.
		left := append(slices.Clone(sorted), gone[i+1:]...)
		data, err := json.Marshal(reposCursor{Repos: left})
		if err != nil {
			return fmt.Errorf("encode cursor %s: %w", reposStream, err)
		}
		if err := emit(ctx, connectors.Page{Stream: reposStream, Cursor: data}); err != nil {
			return err
		}
	}
	if len(gone) > 0 {
		return nil
	}
	data, err := json.Marshal(reposCursor{Repos: sorted})
	if err != nil {
		return fmt.Errorf("encode cursor %s: %w", reposStream, err)
	}
	return emit(ctx, connectors.Page{Stream: reposStream, Cursor: data})
}
