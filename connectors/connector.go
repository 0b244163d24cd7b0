// Package connectors holds the contract every source connector implements.
//
// A connector pulls upstream objects ("records") incrementally. Fetch starts
// from the cursors stored for its streams and hands back pages; the caller
// commits each page's records, the samples derived from them and the page's
// cursor in one store transaction before emit returns, so a crash at any point
// loses nothing and duplicates nothing. Normalize is pure: record in, samples
// out; it is what `kpid recompute` re-runs over stored records.
package connectors

import (
	"context"
	"log/slog"
	"time"

	"github.com/kpid/kpid/internal/httpclient"
	"github.com/kpid/kpid/pipeline"
)

// Record is one upstream object, reduced to the fields kpid derives from.
type Record struct {
	// Kind names the record type within the connector ("pull", "open_pull",
	// "deployment", "issue", "ticket", "open_ticket", "meeting", "deal", ...).
	Kind string
	// ID is stable and unique per connector and kind (e.g. "acme/api#123").
	ID string
	// Updated is the upstream last-modified time (used for retention).
	Updated time.Time
	// Deleted means upstream reports the object gone: the stored record and
	// its samples are removed.
	Deleted bool
	// Data is the minimal record (JSON) the connector's normaliser reads.
	Data []byte
}

// Prune deletes stored records of Kind whose ID starts with Prefix and is
// not in Keep, together with their samples. Connectors use it for snapshot
// listings (open items) and for reconcile.
type Prune struct {
	Kind   string
	Prefix string
	Keep   map[string]struct{}
}

// Page is the unit of commit: its records, their samples and the stream's
// new cursor are written in one transaction.
type Page struct {
	// Stream names the cursor (e.g. "pulls/acme/api"); unique per connector.
	Stream  string
	Records []Record
	// Cursor is the stream's cursor after this page; nil leaves the stored
	// cursor unchanged.
	Cursor []byte
	// Prune, when set, is applied after the records are upserted.
	Prune *Prune
	// Requests is how many upstream requests the page cost, for progress
	// reporting (the HTTP layer counts them for metrics).
	Requests int
}

// Cursors reads the stored cursor of a stream (nil when there is none).
type Cursors interface {
	Cursor(stream string) ([]byte, error)
}

// EmitFunc commits a page; when it returns nil the page is durable.
type EmitFunc func(ctx context.Context, p Page) error

// Connector is what the scheduler runs.
type Connector interface {
	// Fetch reads upstream from the stored cursors (ignoring them when full
	// is true) and hands each page to emit in order.
	Fetch(ctx context.Context, cursors Cursors, full bool, emit EmitFunc) error
	// Normalize derives the samples of one record. It must be pure and
	// deterministic: the same record always gives the same samples. Being
	// pure, it is called from several goroutines at once (the records of
	// a page, a recompute's batches).
	Normalize(rec Record) ([]pipeline.Sample, error)
}

// Deps are what the daemon hands every connector constructor.
type Deps struct {
	// Metrics is the shared upstream HTTP metrics set (httpclient.NewMetrics).
	Metrics *httpclient.Metrics
	// Logger is already scoped with connector=NAME: log with it as it is.
	Logger *slog.Logger
	// Now and Sleep are injected so pacing and windows are testable;
	// nil means time.Now and a context-aware time.Sleep.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Timeout bounds each upstream request (httpclient.Options.Timeout);
	// zero means the HTTP layer's default (30s, SPEC §3).
	Timeout time.Duration
	// Truncated is called once per truncated listing (e.g. a compare capped
	// at 1,000 commits); it feeds kpid_connector_truncations_total.
	Truncated func()
}

// IdentityResolver is implemented by connectors whose people may be
// declared by email (Zendesk users, HubSpot owners, Jira users): it returns
// the upstream id for an email.
type IdentityResolver interface {
	ResolveIdentity(ctx context.Context, email string) (string, error)
}

// DerivationVersion is bumped whenever a normaliser changes what it derives
// from a record; a store written by another version is recomputed from its
// records on start (SPEC §7), with no API call.
const DerivationVersion = 2

// CheckResult is what `kpid validate --online` reports for one connector.
type CheckResult struct {
	// Identity is who the credentials authenticate as (login, email, app).
	Identity string
	// Missing lists, in plain words, the permissions or scopes the
	// connector's KPIs need and the credentials lack.
	Missing []string
	// Notes are other findings worth printing (e.g. "repo acme/x not found").
	Notes []string
}

// Checker is implemented by connectors that can verify their credentials
// with one cheap authenticated call (plus what is needed to learn the
// granted permissions). An error means the credentials do not work.
type Checker interface {
	Check(ctx context.Context) (CheckResult, error)
}
