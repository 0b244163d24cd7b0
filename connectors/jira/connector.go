package jira

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/internal/httpclient"
)

const (
	// overlap is how far before the cursor each incremental search starts
	// again: Jira's search index lags behind writes, so an issue updated
	// just before the last run may only now be searchable.
	overlap = 5 * time.Minute
	// pageSize is maxResults of the issue searches.
	pageSize = 100
	// lookupTTL is how long the status list, the points field and the
	// user's zone are cached.
	lookupTTL = time.Hour
	// bulkMaxIssues is the most issues one bulk changelog request takes.
	bulkMaxIssues = 1000
	// bulkPageSize is maxResults of a bulk changelog request.
	bulkPageSize = 1000
	// changelogPageSize is maxResults of a Data Center changelog page.
	changelogPageSize = 100
)

// Connector pulls Jira issues (SPEC §3.4) and derives the jira_* measures.
type Connector struct {
	cfg    *Config
	client *client
	rules  rules
	log    *slog.Logger
	now    func() time.Time

	mu sync.Mutex
	lk *lookups // cached; refreshed at most hourly
}

// The connector is what the scheduler runs, resolves people declared by
// email and checks its credentials for `kpid validate --online`.
var (
	_ connectors.Connector        = (*Connector)(nil)
	_ connectors.IdentityResolver = (*Connector)(nil)
	_ connectors.Checker          = (*Connector)(nil)
)

// New builds a connector from validated options.
func New(cfg *Config, deps connectors.Deps) (*Connector, error) {
	if cfg == nil {
		return nil, errors.New("build jira connector: no options")
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Path + ": " + e.Message
		}
		return nil, fmt.Errorf("build jira connector %s: %s", cfg.Name, strings.Join(msgs, "; "))
	}
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("build jira connector %s: base_url: %w", cfg.Name, err)
	}
	r, err := newRules(cfg)
	if err != nil {
		return nil, fmt.Errorf("build jira connector %s: %w", cfg.Name, err)
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	email, token, flavor := cfg.Email, cfg.Token.Value(), cfg.Flavor
	auth := func(req *http.Request) {
		if flavor == FlavorDataCenter {
			req.Header.Set("Authorization", "Bearer "+token)
			return
		}
		req.SetBasicAuth(email, token)
	}
	hc, err := httpclient.New(httpclient.Options{
		Connector:          cfg.Name,
		Type:               "jira",
		Auth:               auth,
		Limits:             rateLimits(flavor, cfg.MinRemaining),
		Metrics:            deps.Metrics,
		Logger:             logger,
		MinRemaining:       cfg.MinRemaining,
		MaxWait:            cfg.MaxWait.D(),
		CAFile:             cfg.CAFile,
		InsecureSkipVerify: cfg.InsecureSkipVerify,
		Now:                deps.Now,
		Sleep:              deps.Sleep,
		Timeout:            deps.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("build jira connector %s: http client: %w", cfg.Name, err)
	}
	prefix := "/rest/api/3"
	if flavor == FlavorDataCenter {
		prefix = "/rest/api/2"
	}
	return &Connector{
		cfg:    cfg,
		client: &client{http: hc, base: base, prefix: prefix, connector: cfg.Name},
		rules:  r,
		log:    logger,
		now:    now,
	}, nil
}

// lookups are the cached site look-ups.
type lookups struct {
	fetched     time.Time
	statuses    catalog
	pointsField string // resolved field id ("" without points_field)
	zone        string // IANA zone of due dates ("" UTC): timezone, else the user's
	// jqlLocs are the zones Jira may read JQL times in: the user's
	// (/myself) and the timezone option, whichever are known; UTC−12 when
	// neither is (see jqlLoc).
	jqlLocs  []*time.Location
	requests int // requests the refresh cost (0 when cached)
}

// westernmost is the zone JQL times are written in when neither the API
// user's zone nor the timezone option is known (UTC−12, the earliest local
// time anywhere).
var westernmost = time.FixedZone("UTC-12", -12*60*60)

// lookups returns the cached look-ups, refreshing them when older than an
// hour: GET /status and GET /myself always, GET /field with a
// points_field.
func (c *Connector) lookups(ctx context.Context) (*lookups, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.lk != nil && now.Sub(c.lk.fetched) < lookupTTL && !now.Before(c.lk.fetched) {
		lk := *c.lk
		lk.requests = 0
		return &lk, nil
	}
	lk := &lookups{fetched: now}

	var statuses []apiStatus
	if err := c.client.do(ctx, http.MethodGet, "/status", nil, nil, &statuses); err != nil {
		return nil, fmt.Errorf("list jira statuses: %w", err)
	}
	lk.requests++
	lk.statuses = newCatalog(statuses)
	c.checkStatusNames(lk.statuses)

	if pf := strings.TrimSpace(c.cfg.PointsField); pf != "" {
		var fields []apiField
		if err := c.client.do(ctx, http.MethodGet, "/field", nil, nil, &fields); err != nil {
			return nil, fmt.Errorf("list jira fields: %w", err)
		}
		lk.requests++
		id, err := resolvePointsField(pf, fields)
		if err != nil {
			return nil, err
		}
		lk.pointsField = id
	}

	// Jira reads the times of a JQL query in the API user's zone (the
	// timeZone of /myself); the timezone option is the zone of due dates.
	// The incremental bound is written so that it holds in both (jqlLoc).
	var me apiUser
	err := c.client.do(ctx, http.MethodGet, "/myself", nil, nil, &me)
	lk.requests++
	if err != nil {
		// Refused credentials or a cancelled run end the run; any other
		// failure (an endpoint the site does not serve) falls back to the
		// option, else UTC−12, with a warning.
		if errors.Is(err, httpclient.ErrCredentials) || ctx.Err() != nil {
			return nil, fmt.Errorf("read jira user time zone: %w", err)
		}
		fallback := c.cfg.Timezone
		if fallback == "" {
			fallback = westernmost.String()
		}
		c.log.Warn("cannot read the jira user's time zone, writing JQL times in the fallback zone",
			"endpoint", "GET "+c.client.prefix+"/myself", "zone", fallback, "err", err)
		me = apiUser{}
	}
	load := func(zone string) *time.Location {
		if zone == "" {
			return nil
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			c.log.Warn("unknown jira time zone", "zone", zone)
			return nil
		}
		return loc
	}
	userLoc, optLoc := load(me.TimeZone), load(c.cfg.Timezone)
	for _, loc := range []*time.Location{userLoc, optLoc} {
		if loc != nil {
			lk.jqlLocs = append(lk.jqlLocs, loc)
		}
	}
	if len(lk.jqlLocs) == 0 {
		lk.jqlLocs = []*time.Location{westernmost}
	}
	switch {
	case optLoc != nil:
		lk.zone = c.cfg.Timezone
	case userLoc != nil:
		lk.zone = me.TimeZone
	}
	c.lk = lk
	out := *lk
	return &out, nil
}

// jqlLoc returns the zone to write a JQL time t in: of the zones Jira may
// read it in (the user's, the timezone option), the one whose clock shows
// the earliest time at t. Written there, the bound falls at or before t
// whichever of them Jira reads it in: a bound too late would skip changes,
// one too early only re-reads an overlap that is deduped.
func (lk *lookups) jqlLoc(t time.Time) *time.Location {
	best := lk.jqlLocs[0]
	_, bestOff := t.In(best).Zone()
	for _, loc := range lk.jqlLocs[1:] {
		if _, off := t.In(loc).Zone(); off < bestOff {
			best, bestOff = loc, off
		}
	}
	return best
}

// checkStatusNames warns about configured status names the site does not
// have (a typo makes every issue "not done").
func (c *Connector) checkStatusNames(cat catalog) {
	for _, list := range []struct {
		key   string
		names []string
	}{{"in_progress_statuses", c.cfg.InProgressStatuses}, {"done_statuses", c.cfg.DoneStatuses}} {
		for _, n := range list.names {
			n = strings.TrimSpace(n)
			if _, ok := cat.byID[n]; ok {
				continue
			}
			if _, ok := cat.byName[strings.ToLower(n)]; ok {
				continue
			}
			c.log.Warn("configured jira status not found on the site", "option", list.key, "status", n)
		}
	}
}

// resolvePointsField finds the points field by id, else by name (a number
// field preferred when several share the name).
func resolvePointsField(want string, fields []apiField) (string, error) {
	for _, f := range fields {
		if f.ID == want {
			return f.ID, nil
		}
	}
	found := ""
	for _, f := range fields {
		if !strings.EqualFold(strings.TrimSpace(f.Name), want) {
			continue
		}
		if f.Schema != nil && f.Schema.Type == "number" {
			return f.ID, nil
		}
		if found == "" {
			found = f.ID
		}
	}
	if found == "" {
		return "", fmt.Errorf("resolve jira points field %q: no field with that id or name (GET /field)", want)
	}
	return found, nil
}

// ResolveIdentity returns the Jira user id of an email: the accountId on
// Cloud (GET /rest/api/3/user/search?query=), the user name on Data Center
// (GET /rest/api/2/user/search?username=). The credentials need the
// "Browse users and groups" global permission, and on Cloud the user's
// email must be visible to them.
func (c *Connector) ResolveIdentity(ctx context.Context, email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", errors.New("resolve jira user: empty email")
	}
	q := url.Values{"maxResults": {"50"}}
	if c.cfg.Flavor == FlavorDataCenter {
		q.Set("username", email)
	} else {
		q.Set("query", email)
	}
	var users []apiUser
	if err := c.client.do(ctx, http.MethodGet, "/user/search", q, nil, &users); err != nil {
		return "", fmt.Errorf("resolve jira user by email: %w", err)
	}
	var match []apiUser
	for _, u := range users {
		if strings.EqualFold(u.EmailAddress, email) {
			match = append(match, u)
		}
	}
	if len(match) == 0 && len(users) == 1 && users[0].EmailAddress == "" {
		// Cloud hides emails by the user's privacy settings; a single
		// answer to an exact email query is that user.
		match = users
	}
	switch len(match) {
	case 0:
		return "", errors.New("resolve jira user by email: no user with that email is visible to the credentials")
	case 1:
		if id := match[0].actor(c.cfg.Flavor); id != "" {
			return id, nil
		}
		return "", errors.New("resolve jira user by email: the user has no id")
	default:
		return "", fmt.Errorf("resolve jira user by email: %d users match", len(match))
	}
}
