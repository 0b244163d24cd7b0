package github

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"time"

	gh "github.com/google/go-github/v84/github"

	"github.com/kpid/kpid/connectors"
)

// deployBatch is how many deployment records are committed together.
const deployBatch = 50

// deployCursor is the cursor of stream "deployments/{owner}/{repo}/{env}"
// (JSON).
//
// GET /repos/{o}/{r}/deployments?environment=E lists newest first and
// deployments never change once created (only their statuses grow), so the
// mark is an id: HighWater is the newest deployment id of the last complete
// walk, ETag its page-1 ETag (a 304 means no new deployment). A walk lists
// the deployments newer than HighWater (within the lookback), then processes
// them oldest first together with the Pending ones, so that "the previous
// successful deployment" is known: LastSuccessSHA is the sha of the newest
// deployment (LastSuccessID) processed whose first terminal status is
// success, and each new success is compared with it. A pending deployment
// that succeeds after a newer one did does not take the mark back: the next
// success is compared with the newest one, so the commits the newer one
// shipped are not counted again. Pending are the deployments without a
// terminal status yet (re-checked every run, conditionally on their statuses'
// ETag, until they get one or fall out of the lookback). Walk.Done is the id
// of the last deployment processed in the walk in progress: records are
// committed in batches with Done, LastSuccessSHA and Pending advanced past
// them, so a crash re-lists and resumes after Done without loss or
// duplication; HighWater and ETag move only when the walk completes.
//
// Fresh and Untracked serve the reconcile of deleted deployments
// (reconcile.go), as in pullsCursor: Fresh lists the deployments (id,
// created_at) listed by incremental walks since the last reconcile;
// Untracked says a walk from an empty mark (first sync, --full) stored
// deployments without listing them in Fresh.
type deployCursor struct {
	HighWater      int64           `json:"high_water,omitempty"`
	ETag           string          `json:"etag,omitempty"`
	LastSuccessSHA string          `json:"last_success_sha,omitempty"`
	LastSuccessID  int64           `json:"last_success_id,omitempty"`
	Pending        []pendingDeploy `json:"pending,omitempty"`
	Walk           *deployWalk     `json:"walk,omitempty"`
	Fresh          []mark          `json:"fresh,omitempty"`
	Untracked      bool            `json:"untracked,omitempty"`
}

type deployWalk struct {
	NewHighWater int64  `json:"new_high_water"`
	NewETag      string `json:"new_etag,omitempty"`
	Done         int64  `json:"done"`
	// Horizon marks a walk from an empty mark: it lists the whole lookback.
	Horizon bool `json:"horizon,omitempty"`
}

type pendingDeploy struct {
	ID        int64     `json:"id"`
	SHA       string    `json:"sha,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ETag      string    `json:"etag,omitempty"`
}

func deployStream(repo, env string) string  { return "deployments/" + repo + "/" + env }
func deployID(repo string, id int64) string { return fmt.Sprintf("%s/deployments/%d", repo, id) }

// syncDeployments reads the new deployments to one production environment
// and re-checks the pending ones. It returns the listing of the
// deployments within the lookback when this run made a complete walk from
// an empty mark (see pullsResult.walked).
func (c *Connector) syncDeployments(ctx context.Context, repo, env string, cursors connectors.Cursors, full bool, emit emitter) (listing, error) {
	stream := deployStream(repo, env)
	var cur deployCursor
	if _, err := c.readCursor(cursors, stream, false, &cur); err != nil {
		return listing{}, err
	}
	if full {
		// A full walk starts afresh but keeps what the reconcile still has
		// to check.
		cur = deployCursor{Fresh: cur.Fresh, Untracked: cur.Untracked}
	}
	track := c.cfg.Reconcile > 0
	walk := cur.Walk
	resumed := walk != nil
	if walk == nil {
		walk = &deployWalk{NewHighWater: cur.HighWater, NewETag: cur.ETag, Horizon: cur.HighWater == 0}
	}
	requests := 0

	// 1. The listing, newest first, down to the mark.
	etag := ""
	if cur.Walk == nil {
		etag = cur.ETag
	}
	floor := cur.HighWater
	if walk.Done > floor {
		floor = walk.Done
	}
	horizon := c.lookbackStart()
	path := repoPath(repo) + "/deployments"
	var fresh []pendingDeploy
	var order newestFirst
	listed := false
	for page := 1; page != 0; {
		q := url.Values{"environment": {env}, "per_page": {fmt.Sprint(perPage)}, "page": {fmt.Sprint(page)}}
		var list []*gh.Deployment
		resp, notModified, err := c.get(ctx, path, q, etag, &list)
		requests++
		if err != nil {
			return listing{}, fmt.Errorf("list deployments to %s page %d: %w", env, page, err)
		}
		if notModified {
			break
		}
		listed = true
		if page == 1 {
			walk.NewETag = resp.Header.Get("ETag")
		}
		etag = ""
		page = resp.NextPage
		for _, d := range list {
			if e := d.GetEnvironment(); e != "" && e != env {
				continue // not what was asked for (an upstream ignoring the filter)
			}
			created := tsValue(d.CreatedAt)
			order.see(d.GetID())
			if d.GetID() <= floor || created.Before(horizon) {
				order.past = true
				continue
			}
			if d.GetID() > walk.NewHighWater {
				walk.NewHighWater = d.GetID()
			}
			fresh = append(fresh, pendingDeploy{ID: d.GetID(), SHA: d.GetSHA(), CreatedAt: created})
		}
		if order.stop() {
			page = 0
		}
	}

	// 2. Pending and new deployments, oldest first.
	byID := map[int64]pendingDeploy{}
	for _, p := range cur.Pending {
		if p.ID > walk.Done {
			byID[p.ID] = p
		}
	}
	for _, d := range fresh {
		byID[d.ID] = d
	}
	todo := make([]pendingDeploy, 0, len(byID))
	for _, d := range byID {
		todo = append(todo, d)
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].ID < todo[j].ID })

	pending := map[int64]pendingDeploy{}
	for _, p := range cur.Pending {
		pending[p.ID] = p
	}
	state := cur
	state.Walk = walk
	var walked listing
	if listed && track {
		marks := make([]mark, 0, len(fresh))
		for _, d := range fresh {
			marks = append(marks, mark{N: d.ID, T: d.CreatedAt.Unix()})
		}
		if walk.Horizon {
			state.Untracked = true
			if !resumed {
				walked = listing{marks: mergeMarks(horizon, marks), complete: true}
			}
		} else {
			state.Fresh = mergeMarks(horizon, state.Fresh, marks)
		}
	}
	if !track {
		state.Fresh, state.Untracked = nil, false
	}
	var records []connectors.Record
	commit := func(final bool) error {
		state.Pending = sortedPending(pending)
		if final {
			if listed {
				state.HighWater, state.ETag = walk.NewHighWater, walk.NewETag
			}
			state.Walk = nil
		}
		data, err := json.Marshal(state)
		if err != nil {
			return fmt.Errorf("encode cursor %s: %w", stream, err)
		}
		err = emit(ctx, connectors.Page{Stream: stream, Records: records, Cursor: data, Requests: requests})
		records, requests = nil, 0
		return err
	}
	changed := listed
	for _, d := range todo {
		rec, etag, calls, err := c.checkDeployment(ctx, repo, env, d, state.LastSuccessSHA)
		requests += calls
		gone := isNotFound(err)
		if err != nil && !gone {
			return listing{}, err
		}
		walk.Done = d.ID
		switch {
		case gone:
			// Deleted upstream (DELETE /repos/{o}/{r}/deployments/{id})
			// between the listing and its statuses, or while pending.
			c.log.Info("deployment deleted upstream", "repo", repo, "environment", env, "deployment", d.ID)
			delete(pending, d.ID)
			records = append(records, connectors.Record{Kind: KindDeployment, ID: deployID(repo, d.ID), Deleted: true})
			changed = true
		case rec != nil:
			delete(pending, d.ID)
			if rec.Outcome == outcomeSuccess && rec.ID > state.LastSuccessID {
				state.LastSuccessSHA, state.LastSuccessID = rec.SHA, rec.ID
			}
			data, err := json.Marshal(rec)
			if err != nil {
				return listing{}, fmt.Errorf("encode deployment record %d: %w", d.ID, err)
			}
			records = append(records, connectors.Record{Kind: KindDeployment, ID: deployID(repo, d.ID), Updated: rec.OutcomeAt, Data: data})
			changed = true
		case d.CreatedAt.Before(horizon):
			delete(pending, d.ID)
			changed = true
		default:
			if p, ok := pending[d.ID]; !ok || p.ETag != etag {
				changed = true
			}
			d.ETag = etag
			pending[d.ID] = d
		}
		if len(records) >= deployBatch {
			if err := commit(false); err != nil {
				return listing{}, err
			}
		}
	}
	if !changed && cur.Walk == nil {
		return walked, nil
	}
	return walked, commit(true)
}

func sortedPending(m map[int64]pendingDeploy) []pendingDeploy {
	out := make([]pendingDeploy, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// checkDeployment reads a deployment's statuses (conditionally when it was
// pending with a known ETag). It returns the record when the deployment has
// a terminal status, else nil and the statuses' ETag to keep.
func (c *Connector) checkDeployment(ctx context.Context, repo, env string, d pendingDeploy, prevSHA string) (*deploymentRecord, string, int, error) {
	path := fmt.Sprintf("%s/deployments/%d/statuses", repoPath(repo), d.ID)
	var statuses []*gh.DeploymentStatus
	etag, calls := "", 0
	for page := 1; page != 0; {
		q := url.Values{"per_page": {fmt.Sprint(perPage)}, "page": {fmt.Sprint(page)}}
		cond := ""
		if page == 1 {
			cond = d.ETag
		}
		var list []*gh.DeploymentStatus
		resp, notModified, err := c.get(ctx, path, q, cond, &list)
		calls++
		if err != nil {
			return nil, "", calls, fmt.Errorf("list statuses of deployment %d: %w", d.ID, err)
		}
		if notModified {
			return nil, d.ETag, calls, nil
		}
		if page == 1 {
			etag = resp.Header.Get("ETag")
		}
		statuses = append(statuses, list...)
		page = resp.NextPage
	}
	outcome, at, ok := firstTerminal(statuses)
	if !ok {
		return nil, etag, calls, nil
	}
	rec := &deploymentRecord{
		Repo: repo, Environment: env, ID: d.ID, SHA: d.SHA, CreatedAt: d.CreatedAt,
		Outcome: outcome, OutcomeAt: at,
	}
	if outcome == outcomeSuccess && prevSHA != "" && d.SHA != "" {
		rec.PreviousSHA = prevSHA
		dates, truncated, n, err := c.compare(ctx, repo, prevSHA, d.SHA)
		calls += n
		if err != nil {
			return nil, "", calls, fmt.Errorf("commits of deployment %d: %w", d.ID, err)
		}
		rec.CommitDates, rec.Truncated = dates, truncated
	}
	return rec, etag, calls, nil
}

// firstTerminal returns the outcome of a deployment: its first status, by
// created_at (then id), that is success, failure or error. Later statuses,
// inactive included, change nothing.
func firstTerminal(statuses []*gh.DeploymentStatus) (string, time.Time, bool) {
	sort.SliceStable(statuses, func(i, j int) bool {
		a, b := tsValue(statuses[i].CreatedAt), tsValue(statuses[j].CreatedAt)
		if !a.Equal(b) {
			return a.Before(b)
		}
		return statuses[i].GetID() < statuses[j].GetID()
	})
	for _, s := range statuses {
		switch st := s.GetState(); st {
		case outcomeSuccess, outcomeFailure, outcomeError:
			if s.CreatedAt == nil {
				continue
			}
			return st, tsValue(s.CreatedAt), true
		}
	}
	return "", time.Time{}, false
}

// compare reads the author dates of the commits in base...head, paged, at
// most maxCompareCommits (a truncation is counted). A comparison GitHub
// cannot make (404: a sha gone after a force push) yields no commits.
func (c *Connector) compare(ctx context.Context, repo, base, head string) ([]time.Time, bool, int, error) {
	path := fmt.Sprintf("%s/compare/%s...%s", repoPath(repo), url.PathEscape(base), url.PathEscape(head))
	var dates []time.Time
	calls, total := 0, 0
	for page := 1; page != 0 && len(dates) < maxCompareCommits; {
		q := url.Values{"per_page": {fmt.Sprint(perPage)}, "page": {fmt.Sprint(page)}}
		var cmp gh.CommitsComparison
		resp, _, err := c.get(ctx, path, q, "", &cmp)
		calls++
		if err != nil {
			if notFound(resp) {
				c.log.Warn("compare commits not possible", "repo", repo, "base", base, "head", head)
				return nil, false, calls, nil
			}
			return nil, false, calls, fmt.Errorf("compare page %d: %w", page, err)
		}
		if t := cmp.GetTotalCommits(); t > total {
			total = t
		}
		for _, rc := range cmp.Commits {
			if len(dates) == maxCompareCommits {
				break
			}
			if at := commitDate(rc); at != nil {
				dates = append(dates, *at)
			}
		}
		page = resp.NextPage
	}
	truncated := total > maxCompareCommits
	if truncated {
		c.truncated()
		c.log.Info("compare truncated", "repo", repo, "commits", total, "kept", maxCompareCommits)
	}
	return dates, truncated, calls, nil
}
