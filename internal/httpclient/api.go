package httpclient

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// ErrCredentials marks a 401, or a 403 that is not a rate limit: the
// credentials are wrong or lack a permission. Not retried.
var ErrCredentials = errors.New("credentials rejected")

// ErrRateLimited marks a rate limit whose reset is further away than
// Options.MaxWait: the run ends and the next one resumes from the cursor.
var ErrRateLimited = errors.New("rate limit exhausted")

// Limit is one rate-limit budget read from a response's headers.
type Limit struct {
	Resource  string    // "core", "search", "burst", "daily", "export", ...
	Remaining int       // requests left in the budget
	Reset     time.Time // when the budget refills; zero if unknown
	// PerEndpoint marks a budget that belongs to the endpoint that reported
	// it (GitHub's search budget, Zendesk's endpoint buckets, Jira's burst
	// limit per endpoint and method), not to every request of the token:
	// the pre-send check then holds back only requests with the same
	// method and path.
	PerEndpoint bool
}

// LimitsFunc reads the provider's rate-limit headers of a response.
type LimitsFunc func(h http.Header, now time.Time) []Limit

// Options configure one connector's client.
type Options struct {
	Connector string // `connector` label and log key
	Type      string // `type` label

	Timeout      time.Duration // per request; default 30s
	MaxRetries   int           // retries after the first attempt; default 5, negative for none
	MaxWait      time.Duration // longest wait for a rate-limit reset; default 15m
	MinRemaining int           // keep this much of a shared budget unused
	// RateLimitWindow is how long a rate-limit refusal that names no wait
	// (no Retry-After, no exhausted budget with a reset) is waited out
	// before the retry; exponential backoff still applies when it is longer.
	// Default by Type: "github" 1m (GitHub's advice for secondary limits),
	// "hubspot" 10s (its rolling burst window), otherwise backoff only.
	RateLimitWindow time.Duration

	CAFile             string // PEM bundle added to the system roots
	InsecureSkipVerify bool   // logs a warning at construction

	// Auth sets the credentials on every outgoing attempt (on a clone of
	// the request). It is not applied to a redirect to another host.
	Auth func(*http.Request)
	// Limits reads the provider's rate-limit headers (GitHubLimits,
	// ZendeskLimits, HubSpotLimits, JiraLimits); nil reads none.
	Limits LimitsFunc

	Metrics *Metrics
	// Logger is the connector's, scoped with connector=NAME (connectors.Deps).
	Logger *slog.Logger

	// Injected for tests; defaults: time.Now, a context-aware sleep,
	// math/rand/v2.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func() float64
}
