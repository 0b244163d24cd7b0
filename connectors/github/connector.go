package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v84/github"

	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/internal/httpclient"
)

const (
	// overlap is how far before a stored cursor a sync re-reads, because
	// upstream listings lag; idempotent upserts absorb the re-read.
	overlap = 5 * time.Minute
	// orgReposTTL bounds how often "org/*" entries are listed.
	orgReposTTL = time.Hour
	// perPage is the page size of every listing.
	perPage = 100
	// maxCompareCommits caps the commits read for one deployment.
	maxCompareCommits = 1000
	// maxBodyBytes bounds a response body read into memory.
	maxBodyBytes = 64 << 20
	// rateLimitAttempts bounds the waits for one request's rate limit.
	rateLimitAttempts = 3
)

// Connector pulls pull requests, deployments and labelled issues from the
// GitHub REST API (SPEC §3.1) and normalises them (SPEC §4.1).
type Connector struct {
	cfg       *Config
	client    *gh.Client
	log       *slog.Logger
	now       func() time.Time
	sleep     func(ctx context.Context, d time.Duration) error
	truncated func()
	app       *appAuth // nil with token auth

	bots           map[string]struct{}
	incidentLabels map[string]struct{}
	bugLabels      map[string]struct{}

	mu         sync.Mutex
	orgRepos   map[string][]string // org -> repos, from GET /orgs/{org}/repos
	orgReposAt map[string]time.Time
}

var _ connectors.Connector = (*Connector)(nil)

// New builds a connector from validated options.
func New(cfg *Config, deps connectors.Deps) (*Connector, error) {
	if cfg == nil {
		return nil, errors.New("new github connector: nil config")
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("new github connector %q: %s: %s", cfg.Name, errs[0].Path, errs[0].Message)
	}
	c := &Connector{
		cfg:            cfg,
		log:            deps.Logger,
		now:            deps.Now,
		sleep:          deps.Sleep,
		truncated:      deps.Truncated,
		bots:           lowerSet(cfg.Bots),
		incidentLabels: lowerSet(cfg.IncidentLabels),
		bugLabels:      lowerSet(cfg.BugLabels),
		orgRepos:       map[string][]string{},
		orgReposAt:     map[string]time.Time{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.truncated == nil {
		c.truncated = func() {}
	}

	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("new github connector %q: parse base_url: %w", cfg.Name, err)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	if cfg.InsecureSkipVerify {
		c.log.Warn("tls certificate verification disabled", "insecure_skip_verify", true)
	}

	opts := httpclient.Options{
		Connector:          cfg.Name,
		Type:               "github",
		Limits:             httpclient.GitHubLimits,
		Metrics:            deps.Metrics,
		Logger:             c.log,
		MinRemaining:       cfg.MinRemaining,
		MaxWait:            cfg.MaxWait.D(),
		CAFile:             cfg.CAFile,
		InsecureSkipVerify: cfg.InsecureSkipVerify,
		Now:                deps.Now,
		Sleep:              deps.Sleep,
		Timeout:            deps.Timeout,
	}
	if cfg.Token != "" {
		token := cfg.Token.Value()
		opts.Auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	} else {
		app, err := newAppAuth(cfg, base, opts, c.now)
		if err != nil {
			return nil, fmt.Errorf("new github connector %q: %w", cfg.Name, err)
		}
		c.app = app
		opts.Auth = app.authorize
	}
	hc, err := httpclient.New(opts)
	if err != nil {
		return nil, fmt.Errorf("new github connector %q: http client: %w", cfg.Name, err)
	}
	c.client = newGitHubClient(hc, base)
	return c, nil
}

func newGitHubClient(hc *http.Client, base *url.URL) *gh.Client {
	client := gh.NewClient(hc)
	b := *base
	client.BaseURL = &b
	client.UploadURL = &b
	client.UserAgent = "kpid"
	return client
}

func lowerSet(list []string) map[string]struct{} {
	m := make(map[string]struct{}, len(list))
	for _, s := range list {
		m[strings.ToLower(strings.TrimSpace(s))] = struct{}{}
	}
	return m
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// emitError marks a failure of the caller's commit: it ends the run at once.
type emitError struct{ err error }

func (e *emitError) Error() string { return "commit page: " + e.err.Error() }
func (e *emitError) Unwrap() error { return e.err }

// emitter wraps the caller's EmitFunc so commit failures are told apart from
// upstream failures.
type emitter func(ctx context.Context, p connectors.Page) error

func wrapEmit(emit connectors.EmitFunc) emitter {
	return func(ctx context.Context, p connectors.Page) error {
		if err := emit(ctx, p); err != nil {
			return &emitError{err}
		}
		return nil
	}
}

// fatal reports whether an error must end the whole run rather than only the
// current repository: bad credentials, an exhausted rate limit, a failed
// commit or a cancelled context.
func fatal(err error) bool {
	var ee *emitError
	return errors.As(err, &ee) || errors.Is(err, httpclient.ErrCredentials) ||
		errors.Is(err, httpclient.ErrRateLimited) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded)
}

// Fetch syncs every repository: pull requests, open pull requests,
// deployments per production environment and labelled issues, each stream
// from its stored cursor (ignored when full is true). A failure in one
// repository does not stop the others, except for the fatal ones (see
// fatal); the errors are joined.
func (c *Connector) Fetch(ctx context.Context, cursors connectors.Cursors, full bool, emit connectors.EmitFunc) error {
	em := wrapEmit(emit)
	if c.app != nil {
		if err := c.app.refresh(ctx); err != nil {
			return fmt.Errorf("github %s: %w", c.cfg.Name, err)
		}
	}
	repos, err := c.repos(ctx)
	if err != nil {
		return fmt.Errorf("github %s: %w", c.cfg.Name, err)
	}
	if err := c.forgetRepos(ctx, repos, cursors, em); err != nil {
		return fmt.Errorf("github %s: %w", c.cfg.Name, err)
	}
	var errs []error
	for _, repo := range repos {
		if err := c.fetchRepo(ctx, repo, cursors, full, em); err != nil {
			err = fmt.Errorf("github %s: repo %s: %w", c.cfg.Name, repo, err)
			if fatal(err) {
				return errors.Join(append(errs, err)...)
			}
			c.log.Error("sync repository", "repo", repo, "err", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Connector) fetchRepo(ctx context.Context, repo string, cursors connectors.Cursors, full bool, emit emitter) error {
	if c.app != nil {
		if err := c.app.refresh(ctx); err != nil {
			return err
		}
	}
	pulls, err := c.syncPulls(ctx, repo, cursors, full, emit)
	if err != nil {
		return err
	}
	if err := c.syncOpenPulls(ctx, repo, cursors, full, pulls.unchanged, emit); err != nil {
		return err
	}
	deploys := make(map[string]listing, len(c.cfg.ProductionEnvironments))
	for _, env := range c.cfg.ProductionEnvironments {
		walked, err := c.syncDeployments(ctx, repo, env, cursors, full, emit)
		if err != nil {
			return err
		}
		deploys[env] = walked
	}
	for _, label := range c.issueLabels() {
		if err := c.syncIssues(ctx, repo, label, cursors, full, emit); err != nil {
			return err
		}
	}
	if err := c.reconcileIssues(ctx, repo, cursors, emit); err != nil {
		return err
	}
	if err := c.reconcilePulls(ctx, repo, cursors, pulls.walked, emit); err != nil {
		return err
	}
	for _, env := range c.cfg.ProductionEnvironments {
		if err := c.reconcileDeployments(ctx, repo, env, cursors, deploys[env], emit); err != nil {
			return err
		}
	}
	return nil
}

// issueLabels are the incident and bug labels, each once.
func (c *Connector) issueLabels() []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range append(append([]string(nil), c.cfg.IncidentLabels...), c.cfg.BugLabels...) {
		if k := strings.ToLower(l); !seen[k] {
			seen[k] = true
			out = append(out, l)
		}
	}
	return out
}

// repos resolves the configured repositories: "owner/name" entries as
// given, "org/*" entries from GET /orgs/{org}/repos (archived ones skipped,
// refreshed at most hourly), exclude_repos removed.
func (c *Connector) repos(ctx context.Context) ([]string, error) {
	excluded := lowerSet(c.cfg.ExcludeRepos)
	seen := map[string]bool{}
	var out []string
	add := func(r string) {
		k := strings.ToLower(r)
		if _, ex := excluded[k]; ex || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, r)
	}
	for _, entry := range c.cfg.Repos {
		org, name, _ := strings.Cut(entry, "/")
		if name != "*" {
			add(entry)
			continue
		}
		listed, err := c.orgRepositories(ctx, org)
		if err != nil {
			return nil, err
		}
		for _, r := range listed {
			add(r)
		}
	}
	return out, nil
}

func (c *Connector) orgRepositories(ctx context.Context, org string) ([]string, error) {
	c.mu.Lock()
	cached, at := c.orgRepos[org], c.orgReposAt[org]
	c.mu.Unlock()
	now := c.now()
	if !at.IsZero() && now.Sub(at) < orgReposTTL {
		return cached, nil
	}
	path := fmt.Sprintf("orgs/%s/repos", url.PathEscape(org))
	var out []string
	for page := 1; page != 0; {
		q := url.Values{"type": {"all"}, "per_page": {fmt.Sprint(perPage)}, "page": {fmt.Sprint(page)}}
		var list []*gh.Repository
		resp, _, err := c.get(ctx, path, q, "", &list)
		if err != nil {
			return nil, fmt.Errorf("list repositories of org %s page %d: %w", org, page, err)
		}
		for _, r := range list {
			if r.GetArchived() || r.GetFullName() == "" {
				continue
			}
			out = append(out, r.GetFullName())
		}
		page = resp.NextPage
	}
	sort.Strings(out)
	c.mu.Lock()
	c.orgRepos[org], c.orgReposAt[org] = out, now
	c.mu.Unlock()
	return out, nil
}

// get sends GET {base}{path}?{q} and decodes the JSON answer into v. With a
// non-empty etag the request is conditional: a 304 returns notModified and
// leaves v untouched. Conditional requests bypass go-github's client-side
// rate-limit pre-check, because a 304 costs no rate limit.
func (c *Connector) get(ctx context.Context, path string, q url.Values, etag string, v any) (resp *gh.Response, notModified bool, err error) {
	u := path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	bypass := etag != ""
	for attempt := 1; ; attempt++ {
		req, err := c.client.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, false, fmt.Errorf("build request %s: %w", endpoint(path), err)
		}
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		rctx := ctx
		if bypass {
			rctx = context.WithValue(ctx, gh.BypassRateLimitCheck, true)
		}
		resp, err = c.client.BareDo(rctx, req)
		if err == nil {
			break
		}
		if resp != nil && resp.StatusCode == http.StatusNotModified {
			return resp, true, nil
		}
		var rle *gh.RateLimitError
		if errors.As(err, &rle) && attempt < rateLimitAttempts {
			if werr := c.waitRateLimit(ctx, rle.Rate.Reset.Time); werr != nil {
				return resp, false, fmt.Errorf("get %s: %w", endpoint(path), werr)
			}
			// The reset has passed: let the request through to the HTTP
			// layer, which knows the budget too.
			bypass = true
			continue
		}
		return resp, false, c.requestError(path, resp, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return resp, false, fmt.Errorf("read %s: %w", endpoint(path), err)
	}
	if err := decodeBody(body, v); err != nil {
		return resp, false, fmt.Errorf("decode %s: %w", endpoint(path), err)
	}
	return resp, false, nil
}

// decodeBody decodes a JSON answer into v. A listing (v a pointer to a
// slice of pointers) with a null item is a decode error: the reducers read
// every item through it.
func decodeBody(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return err
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.Elem().Kind() == reflect.Slice {
		list := rv.Elem()
		for i := range list.Len() {
			if item := list.Index(i); item.Kind() == reflect.Pointer && item.IsNil() {
				return fmt.Errorf("item %d of the list is null", i)
			}
		}
	}
	return nil
}

// waitRateLimit waits for an exhausted primary rate limit to reset when the
// reset is within max_wait; otherwise the run ends (ErrRateLimited) and the
// next one resumes from the cursors.
func (c *Connector) waitRateLimit(ctx context.Context, reset time.Time) error {
	wait := reset.Sub(c.now()) + time.Second
	if wait < time.Second {
		wait = time.Second
	}
	if max := c.cfg.MaxWait.D(); max > 0 && wait > max {
		return fmt.Errorf("rate limit resets in %s, beyond max_wait %s: %w", wait.Round(time.Second), max, httpclient.ErrRateLimited)
	}
	c.log.Info("waiting for rate limit reset", "wait", wait.Round(time.Second))
	return c.sleep(ctx, wait)
}

// requestError wraps a failed request: 401 and non-rate-limit 403 answers
// become credentials errors.
func (c *Connector) requestError(path string, resp *gh.Response, err error) error {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		code := er.Response.StatusCode
		msg := er.Message
		if msg == "" {
			msg = http.StatusText(code)
		}
		switch code {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("get %s: %d %s: %w", endpoint(path), code, msg, httpclient.ErrCredentials)
		}
		return &statusError{path: endpoint(path), code: code, msg: msg}
	}
	// http.Client wraps transport errors in a *url.Error quoting the full
	// URL; keep only the cause (errors.Is still sees ErrCredentials).
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("get %s: %w", endpoint(path), err)
}

// statusError is an upstream answer with an error status that is neither a
// credentials problem nor retried (404, 410, 422, ...).
type statusError struct {
	path string
	code int
	msg  string
}

func (e *statusError) Error() string { return fmt.Sprintf("get %s: %d %s", e.path, e.code, e.msg) }

// isNotFound reports whether err is a 404 answer.
func isNotFound(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == http.StatusNotFound
}

// notFound reports whether a request failed with 404.
func notFound(resp *gh.Response) bool {
	return resp != nil && resp.Response != nil && resp.StatusCode == http.StatusNotFound
}

// endpoint is the path of a request as logged and reported: no query.
func endpoint(path string) string { return "/" + strings.TrimPrefix(path, "/") }

// repoPath is "repos/{owner}/{repo}" with each part escaped.
func repoPath(repo string) string {
	owner, name, _ := strings.Cut(repo, "/")
	return "repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name)
}

// lookbackStart is the horizon of a first or full sync.
func (c *Connector) lookbackStart() time.Time { return c.now().Add(-c.cfg.Lookback.D()) }

// readCursor decodes a stream's stored cursor into v; a cursor that does
// not decode (an older format) is treated as absent, with a warning.
func (c *Connector) readCursor(cursors connectors.Cursors, stream string, full bool, v any) (bool, error) {
	if full || cursors == nil {
		return false, nil
	}
	raw, err := cursors.Cursor(stream)
	if err != nil {
		return false, fmt.Errorf("read cursor %s: %w", stream, err)
	}
	if len(raw) == 0 {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		c.log.Warn("ignoring unreadable cursor", "stream", stream, "err", err)
		return false, nil
	}
	return true, nil
}

// ts is a timestamp of an answer in UTC, nil when unset. go-github reads
// Unix seconds too; a time outside the years 0 to 9999 cannot be stored
// (JSON cannot carry it) and counts as unset, rather than failing the
// record's encoding on every run.
// commitDate is a compared commit's author date, nil when the answer has
// none (a null commit, commit or author: go-github's getters stop at the
// author, whose Date field is read directly).
func commitDate(rc *gh.RepositoryCommit) *time.Time {
	a := rc.GetCommit().GetAuthor()
	if a == nil {
		return nil
	}
	return ts(a.Date)
}

func ts(t *gh.Timestamp) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	if y := u.Year(); y < 0 || y > 9999 {
		return nil
	}
	return &u
}

func tsValue(t *gh.Timestamp) time.Time {
	if p := ts(t); p != nil {
		return *p
	}
	return time.Time{}
}

// newestFirst watches a listing asked for newest first (pull requests by
// updated_at, deployments by id) to tell where a walk may stop. GitHub
// lists in that order, and the walk stops at the end of the page holding
// the first item past its stop point (the rest of the page is past it too,
// and skipped). An upstream that ignores the order (a proxy, a mock, an
// older GHES) would otherwise make the walk stop at its first old item and
// lose every newer one listed after it, so once the listing shows itself
// out of order (an item newer than the one before it) the walk reads it to
// the end, skipping the items past the stop point.
type newestFirst struct {
	last     int64
	seen     bool
	unsorted bool
	// past: an item past the stop point was listed.
	past bool
}

// see takes the sort key of the next listed item.
func (o *newestFirst) see(key int64) {
	if o.seen && key > o.last {
		o.unsorted = true
	}
	o.last, o.seen = key, true
}

// stop reports whether the walk can end after the current page.
func (o *newestFirst) stop() bool { return o.past && !o.unsorted }
