package hubspot

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

// Defaults of the sync mechanics (SPEC §3, §3.3).
const (
	// pageSize is the documented maximum of one search page.
	pageSize = 200
	// searchCap is how many results of one search query HubSpot lets a
	// client page through; paging beyond answers 400.
	searchCap = 10000
	// searchPerSecond paces search below HubSpot's per-second search limit.
	searchPerSecond = 4
	// overlap is how far before the cursor each run re-reads, because
	// search indexes lag behind writes.
	overlap = 5 * time.Minute
	// ownersTTL is how long the owners listing is reused.
	ownersTTL = time.Hour
	// ownersPageSize is the owners page size (SPEC §3.3).
	ownersPageSize = 100
)

// Connector syncs HubSpot meetings and deals. Build it with New.
type Connector struct {
	name        string
	client      *http.Client
	base        *url.URL
	prefix      string
	logger      *slog.Logger
	now         func() time.Time
	pacer       *httpclient.Pacer
	lookback    time.Duration
	reconcile   time.Duration
	token       string
	excluded    map[string]bool
	attribution string

	// Sync mechanics; tests shrink them.
	pageSize  int
	searchCap int
	overlap   time.Duration
	ownersTTL time.Duration

	mu     sync.Mutex
	owners *ownerCache
}

var (
	_ connectors.Connector        = (*Connector)(nil)
	_ connectors.IdentityResolver = (*Connector)(nil)
)

// New builds a connector from validated options. The HTTP client is the
// shared retrying transport (internal/httpclient) with Bearer auth.
func New(cfg *Config, deps connectors.Deps) (*Connector, error) {
	if cfg == nil {
		return nil, errors.New("build hubspot connector: no options")
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		msgs := make([]string, 0, len(errs))
		for _, e := range errs {
			msgs = append(msgs, e.Path+": "+e.Message)
		}
		return nil, fmt.Errorf("build hubspot connector %s: %s", cfg.Name, strings.Join(msgs, "; "))
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("build hubspot connector %s: base_url must be an absolute http(s) URL", cfg.Name)
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	sleep := deps.Sleep
	if sleep == nil {
		sleep = sleepContext
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("type", Type)
	token := cfg.Token
	client, err := httpclient.New(httpclient.Options{
		Connector:          cfg.Name,
		Type:               Type,
		MaxWait:            cfg.MaxWait.D(),
		MinRemaining:       cfg.MinRemaining,
		CAFile:             cfg.CAFile,
		InsecureSkipVerify: cfg.InsecureSkipVerify,
		Auth: func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+token.Value())
		},
		Limits:  httpclient.HubSpotLimits,
		Metrics: deps.Metrics,
		Logger:  logger,
		Now:     now,
		Sleep:   sleep,
		Timeout: deps.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("build hubspot connector %s: http client: %w", cfg.Name, err)
	}
	excluded := make(map[string]bool, len(cfg.MeetingExcludedOutcomes))
	for _, o := range cfg.MeetingExcludedOutcomes {
		excluded[strings.ToUpper(strings.TrimSpace(o))] = true
	}
	return &Connector{
		name:        cfg.Name,
		client:      client,
		base:        base,
		prefix:      "/" + strings.Trim(cfg.APIPrefix, "/"),
		logger:      logger,
		now:         now,
		pacer:       httpclient.NewPacer(searchPerSecond, time.Second, now, sleep),
		lookback:    cfg.Lookback.D(),
		reconcile:   cfg.Reconcile.D(),
		token:       token.Value(),
		excluded:    excluded,
		attribution: cfg.MeetingAttribution,
		pageSize:    pageSize,
		searchCap:   searchCap,
		overlap:     overlap,
		ownersTTL:   ownersTTL,
	}, nil
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
