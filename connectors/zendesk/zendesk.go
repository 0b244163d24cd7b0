package zendesk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	gozendesk "github.com/nukosuke/go-zendesk/zendesk"

	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/internal/httpclient"
)

// Streams (cursor names).
const (
	StreamTickets     = "tickets"
	StreamOpenTickets = "open_tickets"
	StreamReconcile   = "reconcile/tickets"
)

const (
	// defaultPageSize is the export's default and maximum per_page.
	defaultPageSize = 1000
	// searchPageSize is the search export's maximum page[size].
	searchPageSize = 1000
	// restartOverlap is re-read before the stored time when Zendesk rejects
	// a stored cursor and the export restarts from start_time.
	restartOverlap = 5 * time.Minute
	// lookupTTL is how long user and group look-ups are cached.
	lookupTTL = time.Hour
)

// Connector syncs one Zendesk account.
type Connector struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
	http    *http.Client
	api     *gozendesk.Client
	pacer   *httpclient.Pacer
	apiRoot string
	// pageSize is the export's per_page (tests lower it to get several
	// pages out of a small account).
	pageSize int

	mu            sync.Mutex
	users         map[string]userEntry
	groupsFetched time.Time
	// specQuery is set once the account rejected openQuery and took
	// specOpenQuery instead (see backlog.go).
	specQuery bool
}

type userEntry struct {
	id      string
	fetched time.Time
}

// New builds a connector from validated options. deps.Logger is expected to
// be scoped to the connector already (connector=NAME), as the daemon does.
func New(cfg *Config, deps connectors.Deps) (*Connector, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("build zendesk connector %s: %s: %s", cfg.Name, errs[0].Path, errs[0].Message)
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	sleep := deps.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	user, token := cfg.Email+"/token", cfg.Token.Value()
	hc, err := httpclient.New(httpclient.Options{
		Connector:          cfg.Name,
		Type:               "zendesk",
		Auth:               func(r *http.Request) { r.SetBasicAuth(user, token) },
		Limits:             httpclient.ZendeskLimits,
		Metrics:            deps.Metrics,
		Logger:             logger,
		MinRemaining:       cfg.MinRemaining,
		MaxWait:            cfg.MaxWait.D(),
		CAFile:             cfg.CAFile,
		InsecureSkipVerify: cfg.InsecureSkipVerify,
		Now:                now,
		Sleep:              sleep,
		Timeout:            deps.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("build zendesk connector %s: http client: %w", cfg.Name, err)
	}
	apiRoot := strings.TrimRight(cfg.BaseURL, "/") + "/api/v2"
	api, err := gozendesk.NewClient(hc)
	if err != nil {
		return nil, fmt.Errorf("build zendesk connector %s: api client: %w", cfg.Name, err)
	}
	if err := api.SetEndpointURL(apiRoot); err != nil {
		return nil, fmt.Errorf("build zendesk connector %s: api root %s: %w", cfg.Name, apiRoot, err)
	}
	return &Connector{
		cfg:      *cfg,
		log:      logger,
		now:      now,
		sleep:    sleep,
		http:     hc,
		api:      api,
		pacer:    httpclient.NewPacer(cfg.ExportRequestsPerMinute, time.Minute, now, sleep),
		apiRoot:  apiRoot,
		pageSize: defaultPageSize,
		users:    map[string]userEntry{},
	}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Fetch syncs the ticket stream from its stored cursor (from now − lookback
// when there is none, or when full is true), then lists the open tickets for
// the backlog snapshot, then, every `reconcile` interval, drops the stored
// tickets the export no longer returns, then refreshes the group names it
// logs (at most hourly). Every page is handed to emit, which commits it.
func (c *Connector) Fetch(ctx context.Context, cursors connectors.Cursors, full bool, emit connectors.EmitFunc) error {
	floor, err := c.syncTickets(ctx, cursors, full, emit)
	if err != nil {
		return err
	}
	if err := c.syncBacklog(ctx, emit); err != nil {
		return err
	}
	if err := c.reconcile(ctx, cursors, full, floor, emit); err != nil {
		return err
	}
	c.refreshGroups(ctx)
	return nil
}

// errCursorRejected marks a stored export cursor that Zendesk no longer
// accepts (a 4xx answer to a cursor request).
var errCursorRejected = errors.New("export cursor rejected")

// readExcerpt returns the start of a body for an error message.
func readExcerpt(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 512))
	return strings.TrimSpace(string(b))
}
