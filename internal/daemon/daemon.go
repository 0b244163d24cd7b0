// Package daemon wires config, store, connectors, scheduler and the KPI
// snapshot together: it runs syncs (committing each page in one store
// transaction), rebuilds the in-memory snapshot served on /metrics, and
// applies reloads.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kpid/kpid/config"
	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/internal/httpclient"
	"github.com/kpid/kpid/internal/schedule"
	"github.com/kpid/kpid/internal/store"
	"github.com/kpid/kpid/pipeline"
)

// ConnectorType is one entry of the explicit connector list in cmd/kpid.
type ConnectorType struct {
	Config config.ConnectorType
	// Build constructs the connector from its decoded options struct.
	Build func(opts any, deps connectors.Deps) (connectors.Connector, error)
}

// ErrBusy is returned when a sync is requested while one is running.
var ErrBusy = errors.New("a sync of this connector is already running")

// errStopping ends a fetch after the page in hand is committed.
var errStopping = errors.New("daemon stopping")

// Options configure a Daemon.
type Options struct {
	Config *config.Config
	// Load re-reads the config for a reload.
	Load  func() (*config.Config, error)
	Types map[string]ConnectorType
	Store *store.Store
	// Registry receives the daemon's self-metrics. The kpi_* families are
	// not registered there: they are the snapshot's (KPIGatherer, and
	// Snapshot.Exposition for serving them).
	Registry *prometheus.Registry
	Logger   *slog.Logger
	Now      func() time.Time
	// Sleep is handed to the connectors for pacing and rate-limit waits
	// (connectors.Deps.Sleep); nil means a context-aware time.Sleep.
	Sleep func(ctx context.Context, d time.Duration) error
	// SnapshotEvery is how often the snapshot is rebuilt without a sync
	// (windows roll); default 1m.
	SnapshotEvery time.Duration
	// NoSchedule disables cron scheduling (one-shot commands).
	NoSchedule bool
	// OnPage, when set, is called after each page a sync commits, with
	// the page's record and upstream request counts (progress reporting;
	// it runs on the sync's goroutine and must be quick).
	OnPage func(connector string, records, requests int)
}

// ConnectorStatus is what the status page shows of a connector.
type ConnectorStatus struct {
	Name, Type     string
	Running        bool
	LastStart      time.Time
	LastEnd        time.Time
	LastResult     string // success, error, or "" before the first run
	LastDuration   time.Duration
	LastError      string
	LastSuccess    time.Time
	Next           time.Time
	RecordsStored  int
	RecordsLastRun int
}

type conn struct {
	name, typ string
	opts      any
	impl      connectors.Connector
	// run is held for the duration of a sync: runs never overlap. It is
	// the daemon's lock for the connector's name, shared by the conns a
	// reload builds under that name.
	run *sync.Mutex

	mu     sync.Mutex
	status ConnectorStatus
}

// Snapshot is the KPI state served by /metrics and the status page.
type Snapshot struct {
	Built  time.Time
	KPIs   []pipeline.KPI
	Series []pipeline.Series
	// metrics are the prebuilt kpi_* metrics, so a scrape costs O(series)
	// and never touches the store.
	metrics []prometheus.Metric
	// expo caches the metrics gathered and encoded (see Exposition).
	expo snapshotExposition
}

// Daemon is the running kpid.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	store   *store.Store
	metrics *selfMetrics
	httpM   *httpclient.Metrics

	mu    sync.RWMutex
	cfg   *config.Config
	conns map[string]*conn
	ids   map[string]map[string]string // source -> email -> resolved id
	// runLocks is each connector name's sync lock (conn.run); guarded by
	// mu after New.
	runLocks map[string]*sync.Mutex

	sched    *schedule.Scheduler
	snapshot atomic.Pointer[Snapshot]
	// snapMu serialises snapshot builds; it guards sets and eval.
	snapMu sync.Mutex
	// sets caches each measure's samples as last scanned, until the store
	// reports a change to the measure (store.Generation): a snapshot
	// rebuilt every minute, or after a sync that touched a few measures,
	// scans only what changed.
	sets      map[string]cachedSet
	eval      pipeline.Evaluator
	ready     atomic.Bool
	stopping  atomic.Bool
	runs      sync.WaitGroup
	lastPrune time.Time
}

// New builds the daemon and its connectors (no network call).
func New(o Options) (*Daemon, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SnapshotEvery <= 0 {
		o.SnapshotEvery = time.Minute
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	d := &Daemon{
		opts:    o,
		log:     o.Logger,
		now:     o.Now,
		store:   o.Store,
		metrics: newSelfMetrics(o.Registry),
		httpM:   httpclient.NewMetrics(o.Registry),
		cfg:     o.Config,
		conns:   map[string]*conn{},
		// runLocks outlive reloads, so that a connector rebuilt (or
		// removed and added back) while it syncs never runs twice at once.
		runLocks: map[string]*sync.Mutex{},
		ids:      map[string]map[string]string{},
		sets:     map[string]cachedSet{},
	}
	for _, cc := range o.Config.Connectors {
		c, err := d.build(cc)
		if err != nil {
			return nil, err
		}
		d.conns[c.name] = c
	}
	return d, nil
}

func (d *Daemon) build(cc config.Connector) (*conn, error) {
	t, ok := d.opts.Types[cc.Type]
	if !ok {
		return nil, fmt.Errorf("build connector %s: unknown type %q", cc.Name, cc.Type)
	}
	name, typ := cc.Name, cc.Type
	impl, err := t.Build(cc.Options, connectors.Deps{
		Metrics:   d.httpM,
		Logger:    d.log.With("connector", name),
		Now:       d.now,
		Sleep:     d.opts.Sleep,
		Truncated: func() { d.metrics.truncations.WithLabelValues(name, typ).Inc() },
	})
	if err != nil {
		return nil, fmt.Errorf("build connector %s: %w", name, err)
	}
	d.metrics.initConnector(name, typ)
	run := d.runLocks[name]
	if run == nil {
		run = &sync.Mutex{}
		d.runLocks[name] = run
	}
	return &conn{name: name, typ: typ, opts: cc.Options, impl: impl, run: run, status: ConnectorStatus{Name: name, Type: typ}}, nil
}

// Config returns the config in force.
func (d *Daemon) Config() *config.Config {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cfg
}

// Ready reports whether the first snapshot has been built.
func (d *Daemon) Ready() bool { return d.ready.Load() }

// Snapshot returns the current KPI snapshot (nil before the first build).
func (d *Daemon) Snapshot() *Snapshot { return d.snapshot.Load() }

// Connectors returns the status of every connector, sorted by name.
func (d *Daemon) Connectors() []ConnectorStatus {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]ConnectorStatus, 0, len(d.conns))
	for _, c := range d.conns {
		c.mu.Lock()
		st := c.status
		c.mu.Unlock()
		if d.sched != nil {
			st.Next = d.sched.Next(c.name)
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Prepare brings the store up to date before serving: a store written by
// an older derivation is recomputed from its records (no API call); then
// the first snapshot is built.
func (d *Daemon) Prepare() error {
	v, err := d.store.DerivationVersion()
	if err != nil {
		return fmt.Errorf("read derivation version: %w", err)
	}
	if v != connectors.DerivationVersion {
		st, err := d.store.Stats()
		if err != nil {
			return err
		}
		records := 0
		for _, n := range st.Records {
			records += n
		}
		if records == 0 {
			// A new (or empty) store: nothing to re-derive, only stamp it.
			if err := d.store.SetDerivationVersion(connectors.DerivationVersion); err != nil {
				return err
			}
		} else {
			d.log.Info("store derived by another normaliser version: recomputing samples", "stored", v, "current", connectors.DerivationVersion)
			if err := d.Recompute(context.Background()); err != nil {
				return err
			}
		}
	}
	d.BuildSnapshot()
	return nil
}

// Run schedules every connector (each syncs once right away), rebuilds the
// snapshot every minute, and returns when ctx is done and in-flight runs
// have committed their current page (bounded by 10s).
func (d *Daemon) Run(ctx context.Context) error {
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	d.mu.Lock()
	d.sched = schedule.New(runCtx, d.log, time.Local)
	names := make([]string, 0, len(d.conns))
	for n := range d.conns {
		names = append(names, n)
	}
	sort.Strings(names)
	cfg := d.cfg
	d.mu.Unlock()
	for _, n := range names {
		if err := d.schedule(n, connectorSchedule(cfg, n)); err != nil {
			return err
		}
	}
	d.sched.Start()
	for _, n := range names {
		d.setNextRun(n)
	}

	tick := time.NewTicker(d.opts.SnapshotEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			d.log.Info("stopping: waiting for in-flight syncs to commit their current page")
			d.stopping.Store(true)
			d.sched.Stop()
			done := make(chan struct{})
			go func() { d.runs.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				d.log.Warn("in-flight syncs did not finish within 10s: cancelling them")
				cancelRuns()
				<-done
			}
			return nil
		case <-tick.C:
			d.BuildSnapshot()
			d.maybePrune()
		}
	}
}

func connectorSchedule(cfg *config.Config, name string) string {
	for _, c := range cfg.Connectors {
		if c.Name == name {
			return c.Schedule
		}
	}
	return ""
}

func (d *Daemon) schedule(name, spec string) error {
	d.mu.RLock()
	c := d.conns[name]
	d.mu.RUnlock()
	return d.sched.Add(name, spec, func(ctx context.Context) {
		err := d.runSync(ctx, c, false)
		if errors.Is(err, ErrBusy) {
			d.metrics.syncs.WithLabelValues(c.name, c.typ, "skipped").Inc()
		}
		d.setNextRun(name)
	}, func() {
		d.metrics.syncs.WithLabelValues(c.name, c.typ, "skipped").Inc()
	})
}

// setNextRun exposes when a connector runs next.
func (d *Daemon) setNextRun(name string) {
	d.mu.RLock()
	c, ok := d.conns[name]
	d.mu.RUnlock()
	if !ok || d.sched == nil {
		return
	}
	if next := d.sched.Next(name); !next.IsZero() {
		d.metrics.nextRun.WithLabelValues(c.name, c.typ).Set(float64(next.Unix()))
	}
}

// Sync runs one sync of the named connector ("" = every connector, one
// after the other) and rebuilds the snapshot.
func (d *Daemon) Sync(ctx context.Context, name string, full bool) error {
	d.mu.RLock()
	var list []*conn
	for n, c := range d.conns {
		if name == "" || n == name {
			list = append(list, c)
		}
	}
	d.mu.RUnlock()
	if len(list) == 0 {
		return fmt.Errorf("sync: no connector named %q", name)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	var errs []error
	for _, c := range list {
		if err := d.runSync(ctx, c, full); err != nil {
			errs = append(errs, fmt.Errorf("sync %s: %w", c.name, err))
		}
	}
	return errors.Join(errs...)
}

// runSync runs one sync of c unless one is already running.
func (d *Daemon) runSync(ctx context.Context, c *conn, full bool) (err error) {
	if d.stopping.Load() {
		return errStopping
	}
	if !c.run.TryLock() {
		return ErrBusy
	}
	defer c.run.Unlock()
	d.runs.Add(1)
	defer d.runs.Done()

	log := d.log.With("connector", c.name)
	start := d.now()
	c.mu.Lock()
	c.status.Running = true
	c.status.LastStart = start
	c.mu.Unlock()
	log.Info("sync started", "full", full)

	records, pages := 0, 0
	emit := func(ctx context.Context, p connectors.Page) error {
		samples, errs := normalizeAll(c.impl.Normalize, p.Records)
		for i, nerr := range errs {
			if nerr != nil {
				r := &p.Records[i]
				d.metrics.normaliseError.WithLabelValues(c.name, c.typ).Inc()
				log.Warn("record kept without samples: normalise failed", "kind", r.Kind, "id", r.ID, "err", nerr)
			}
		}
		if _, cerr := d.store.CommitPage(c.name, p, samples); cerr != nil {
			return fmt.Errorf("commit page of stream %s: %w", p.Stream, cerr)
		}
		records += len(p.Records)
		pages++
		d.metrics.records.WithLabelValues(c.name, c.typ).Add(float64(len(p.Records)))
		if d.opts.OnPage != nil {
			d.opts.OnPage(c.name, len(p.Records), p.Requests)
		}
		if d.stopping.Load() {
			return errStopping
		}
		return nil
	}

	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("connector panic: %v", r)
				log.Error("connector panicked", "panic", r, "stack", string(debug.Stack()))
			}
		}()
		err = c.impl.Fetch(ctx, d.store.Cursors(c.name), full, emit)
	}()

	end := d.now()
	dur := end.Sub(start)
	d.metrics.duration.WithLabelValues(c.name, c.typ).Observe(dur.Seconds())
	// The snapshot first: whoever sees this run's result (status page,
	// kpid_connector_syncs_total, the log) sees KPIs that include it.
	d.resolveIdentities(ctx, c)
	d.BuildSnapshot()
	c.mu.Lock()
	c.status.Running = false
	c.status.LastEnd = end
	c.status.LastDuration = dur
	c.status.RecordsLastRun = records
	switch {
	case err == nil:
		c.status.LastResult = "success"
		c.status.LastError = ""
		c.status.LastSuccess = end
	case errors.Is(err, errStopping):
		c.status.LastResult = "interrupted"
	default:
		c.status.LastResult = "error"
		c.status.LastError = err.Error()
	}
	c.mu.Unlock()

	switch {
	case err == nil:
		d.metrics.up.WithLabelValues(c.name, c.typ).Set(1)
		d.metrics.lastSuccess.WithLabelValues(c.name, c.typ).Set(float64(end.Unix()))
		d.metrics.syncs.WithLabelValues(c.name, c.typ, "success").Inc()
		log.Info("sync finished", "records", records, "pages", pages, "duration", dur.Round(time.Millisecond))
	case errors.Is(err, errStopping):
		log.Info("sync interrupted by shutdown after committing its current page", "records", records, "pages", pages)
	default:
		d.metrics.up.WithLabelValues(c.name, c.typ).Set(0)
		d.metrics.syncs.WithLabelValues(c.name, c.typ, "error").Inc()
		log.Error("sync failed", "records", records, "pages", pages, "err", err)
	}
	if errors.Is(err, errStopping) {
		return nil
	}
	return err
}

// resolveIdentities resolves people declared by email in c's system.
func (d *Daemon) resolveIdentities(ctx context.Context, c *conn) {
	res, ok := c.impl.(connectors.IdentityResolver)
	if !ok {
		return
	}
	cfg := d.Config()
	for _, p := range cfg.People {
		email := identityOf(p, c.typ)
		if !strings.Contains(email, "@") {
			continue
		}
		d.mu.RLock()
		_, known := d.ids[c.typ][strings.ToLower(email)]
		d.mu.RUnlock()
		if known {
			continue
		}
		id, err := res.ResolveIdentity(ctx, email)
		if err != nil {
			d.log.Warn("person not resolved", "connector", c.name, "person", p.ID, "err", err)
			continue
		}
		d.mu.Lock()
		if d.ids[c.typ] == nil {
			d.ids[c.typ] = map[string]string{}
		}
		d.ids[c.typ][strings.ToLower(email)] = id
		d.mu.Unlock()
	}
}

func identityOf(p config.Person, source string) string {
	switch source {
	case "github":
		return p.GitHub
	case "zendesk":
		return p.Zendesk
	case "hubspot":
		return p.HubSpot
	case "jira":
		return p.Jira
	}
	return ""
}

// org builds the attribution context from the config in force.
func (d *Daemon) org(cfg *config.Config) pipeline.Org {
	d.mu.RLock()
	defer d.mu.RUnlock()
	o := pipeline.Org{ConnectorTypes: map[string]string{}, ConnectorTeams: map[string]map[string]string{}}
	for _, p := range cfg.People {
		pp := pipeline.Person{ID: p.ID, Name: p.Name, Team: p.Team, Roles: p.Roles, Identities: map[string]string{}}
		for _, src := range []string{"github", "zendesk", "hubspot", "jira"} {
			id := identityOf(p, src)
			if strings.Contains(id, "@") {
				id = d.ids[src][strings.ToLower(id)] // unresolved emails match nobody
			}
			if id != "" {
				pp.Identities[src] = id
			}
		}
		o.People = append(o.People, pp)
	}
	for _, c := range cfg.Connectors {
		o.ConnectorTypes[c.Name] = c.Type
		o.ConnectorTeams[c.Name] = c.Teams
	}
	return o
}

// BuildSnapshot recomputes every KPI from the stored samples and swaps the
// snapshot served on /metrics. Each measure's samples are scanned from the
// store only when they changed since the previous build (or the KPIs now
// look further back); the rest come from the daemon's compact cache.
func (d *Daemon) BuildSnapshot() {
	d.snapMu.Lock()
	defer d.snapMu.Unlock()
	cfg := d.Config()
	now := d.now()

	spans := map[string]time.Duration{}
	for _, k := range cfg.KPIs {
		for _, w := range k.Windows {
			if s := w.Duration + k.Baseline; s > spans[k.Measure] {
				spans[k.Measure] = s
			}
		}
	}
	sets := make(map[string]*pipeline.SampleSet, len(spans))
	for m, span := range spans {
		from := now.Add(-span)
		if ms, ok := pipeline.LookupMeasure(m); ok && ms.Snapshot {
			from = time.Time{}
		}
		set, err := d.samples(m, from)
		if err != nil {
			d.log.Error("snapshot not rebuilt: reading samples failed", "measure", m, "err", err)
			return
		}
		// Exactly the samples in (from, now], as a view of the cached set,
		// of the connectors configured now.
		sets[m] = configuredOnly(between(set, from, now), cfg)
	}
	for m := range d.sets {
		if _, used := spans[m]; !used {
			delete(d.sets, m)
		}
	}
	series := d.eval.EvaluateSets(cfg.KPIs, d.org(cfg), sets, now)
	snap := &Snapshot{Built: now, KPIs: cfg.KPIs, Series: series}
	snap.metrics = buildKPIMetrics(snap)
	for _, f := range eagerFormats {
		if _, err := snap.Exposition(f); err != nil {
			d.log.Error("kpi metrics not encoded", "format", string(f), "err", err)
		}
	}
	d.snapshot.Store(snap)
	d.metrics.snapshotTime.Set(float64(now.UnixNano()) / 1e9)

	if st, err := d.store.Stats(); err == nil {
		d.metrics.storeSize.Set(float64(st.SizeBytes))
		for m, n := range st.Samples {
			d.metrics.storeSamples.WithLabelValues(m).Set(float64(n))
		}
		d.mu.RLock()
		for name, c := range d.conns {
			d.metrics.storeRecords.WithLabelValues(name).Set(float64(st.Records[name]))
			c.mu.Lock()
			c.status.RecordsStored = st.Records[name]
			c.mu.Unlock()
		}
		d.mu.RUnlock()
	} else {
		d.log.Warn("store stats unavailable", "err", err)
	}
	d.ready.Store(true)
}

// cachedSet is one measure's samples after from, as scanned when the
// store's generation of the measure was gen.
type cachedSet struct {
	gen  uint64
	from time.Time // zero: every sample
	set  *pipeline.SampleSet
}

// samples returns the samples of measure after from (every sample when
// from is zero), possibly with older ones: from the cache when the measure
// is unchanged since it was scanned from that far back, else from the
// store. Callers hold snapMu.
func (d *Daemon) samples(measure string, from time.Time) (*pipeline.SampleSet, error) {
	gen := d.store.Generation(measure) // before the scan: see store.Generation
	if c, ok := d.sets[measure]; ok && c.gen == gen && (c.from.IsZero() || (!from.IsZero() && !from.Before(c.from))) {
		return c.set, nil
	}
	set, err := d.store.ScanSampleSet(measure, from)
	if err != nil {
		return nil, err
	}
	d.sets[measure] = cachedSet{gen: gen, from: from, set: set}
	return set, nil
}

// configuredOnly drops the samples of connectors no longer in the config:
// their stored records are kept — a connector
// added back resumes from its cursors, retention prunes the rest — but they
// count in no KPI. The set is returned as is when nothing is dropped.
func configuredOnly(set *pipeline.SampleSet, cfg *config.Config) *pipeline.SampleSet {
	names := make(map[string]bool, len(cfg.Connectors))
	for _, c := range cfg.Connectors {
		names[c.Name] = true
	}
	keep := make([]bool, len(set.Attrs))
	all := true
	for i, a := range set.Attrs {
		keep[i] = a.Connector == "" || names[a.Connector]
		all = all && keep[i]
	}
	if all {
		return set
	}
	out := &pipeline.SampleSet{Attrs: set.Attrs}
	for i, a := range set.Attr {
		if keep[a] {
			out.Times = append(out.Times, set.Times[i])
			out.Values = append(out.Values, set.Values[i])
			out.Attr = append(out.Attr, a)
		}
	}
	return out
}

// between is the part of a time-ordered set with from < Time <= to (a zero
// from: no lower bound), sharing the set's arrays.
func between(set *pipeline.SampleSet, from, to time.Time) *pipeline.SampleSet {
	lo := 0
	if !from.IsZero() {
		f := from.UnixNano()
		lo = sort.Search(len(set.Times), func(i int) bool { return set.Times[i] > f })
	}
	t := to.UnixNano()
	hi := lo + sort.Search(len(set.Times)-lo, func(i int) bool { return set.Times[lo+i] > t })
	return &pipeline.SampleSet{Times: set.Times[lo:hi], Values: set.Values[lo:hi], Attr: set.Attr[lo:hi], Attrs: set.Attrs}
}

// Recompute re-derives every sample from the stored records, with no API
// call, then rebuilds the snapshot.
func (d *Daemon) Recompute(ctx context.Context) error {
	d.mu.RLock()
	list := make([]*conn, 0, len(d.conns))
	for _, c := range d.conns {
		list = append(list, c)
	}
	d.mu.RUnlock()
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	for _, c := range list {
		c.run.Lock() // wait for a running sync: recompute must not interleave with it
		n, err := d.store.Rederive(c.name, c.impl.Normalize)
		c.run.Unlock()
		if err != nil {
			return fmt.Errorf("recompute %s: %w", c.name, err)
		}
		d.log.Info("samples recomputed", "connector", c.name, "records", n)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := d.store.SetDerivationVersion(connectors.DerivationVersion); err != nil {
		return fmt.Errorf("record derivation version: %w", err)
	}
	d.BuildSnapshot()
	return nil
}

func (d *Daemon) maybePrune() {
	now := d.now()
	if now.Sub(d.lastPrune) < time.Hour {
		return
	}
	d.lastPrune = now
	ret := d.Config().Storage.Retention.D()
	if ret <= 0 {
		return
	}
	n, err := d.store.PruneBefore(now.Add(-ret))
	if err != nil {
		d.log.Error("retention prune failed", "err", err)
		return
	}
	if n > 0 {
		d.log.Info("records pruned by retention", "records", n)
		d.BuildSnapshot()
	}
}

// Reload re-reads the config. On a problem the running config stays and
// kpid_config_last_reload_successful is 0. Changed connectors are rebuilt;
// stored records and cursors of connectors whose name and type are
// unchanged are kept.
func (d *Daemon) Reload() error {
	if d.opts.Load == nil {
		return errors.New("reload: no config file to reload")
	}
	cfg, err := d.opts.Load()
	if err != nil {
		d.metrics.reloadOK.Set(0)
		d.log.Error("config reload failed: keeping the running config", "err", err)
		return err
	}
	d.mu.Lock()
	old := d.conns
	next := map[string]*conn{}
	var added []string
	for _, cc := range cfg.Connectors {
		if c, ok := old[cc.Name]; ok && c.typ == cc.Type && reflect.DeepEqual(c.opts, cc.Options) {
			next[cc.Name] = c
			continue
		}
		c, err := d.build(cc)
		if err != nil {
			d.mu.Unlock()
			d.metrics.reloadOK.Set(0)
			d.log.Error("config reload failed: keeping the running config", "err", err)
			return err
		}
		next[cc.Name] = c
		added = append(added, cc.Name)
	}
	var removed []*conn
	for name, c := range old {
		if n, ok := next[name]; !ok || n != c {
			removed = append(removed, c)
		}
	}
	d.cfg = cfg
	d.conns = next
	sched := d.sched
	d.mu.Unlock()

	for _, c := range removed {
		if sched != nil {
			sched.Remove(c.name)
		}
		if _, still := next[c.name]; !still {
			d.metrics.dropConnector(c.name, c.typ)
		}
	}
	if sched != nil {
		for _, name := range added {
			if err := d.schedule(name, connectorSchedule(cfg, name)); err != nil {
				d.log.Error("connector not scheduled", "connector", name, "err", err)
				continue
			}
			d.setNextRun(name)
		}
	}
	d.metrics.reloadOK.Set(1)
	d.metrics.reloadOKTime.Set(float64(d.now().Unix()))
	d.log.Info("config reloaded", "connectors", len(next), "kpis", len(cfg.KPIs), "rebuilt", len(added))
	d.BuildSnapshot()
	return nil
}

// MarkConfigLoaded records the initial load as a successful one.
func (d *Daemon) MarkConfigLoaded() {
	d.metrics.reloadOK.Set(1)
	d.metrics.reloadOKTime.Set(float64(d.now().Unix()))
}
