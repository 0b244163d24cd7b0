package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kpid/kpid/config"
	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/connectors/github"
	"github.com/kpid/kpid/internal/sim"
	"github.com/kpid/kpid/internal/sim/githubsim"
	"github.com/kpid/kpid/internal/store"
	"github.com/kpid/kpid/pipeline"
)

// versionedConnector serves fakeRecords like fakeConnector, with the
// normaliser of an older kpid (old: cycle time in hours instead of seconds,
// no merged sample) or of this one. With noFetch, any Fetch fails the test:
// a recompute must not call the upstream.
type versionedConnector struct {
	t       *testing.T
	old     bool
	noFetch bool
	fetches atomic.Int32
	records map[string]fakeRecord
}

func (v *versionedConnector) Fetch(ctx context.Context, _ connectors.Cursors, _ bool, emit connectors.EmitFunc) error {
	v.fetches.Add(1)
	if v.noFetch {
		v.t.Errorf("Fetch called: recomputing a store must make no API call")
		return fmt.Errorf("fetch called")
	}
	var recs []connectors.Record
	for _, id := range []string{"1", "2", "3", "4"} {
		r, ok := v.records[id]
		if !ok {
			continue
		}
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		recs = append(recs, connectors.Record{Kind: "pull", ID: id, Updated: r.Merged, Data: data})
	}
	return emit(ctx, connectors.Page{Stream: "pulls", Records: recs, Cursor: []byte("c1")})
}

func (v *versionedConnector) Normalize(rec connectors.Record) ([]pipeline.Sample, error) {
	var r fakeRecord
	if err := json.Unmarshal(rec.Data, &r); err != nil {
		return nil, err
	}
	labels := map[string]string{"repo": r.Repo}
	if v.old {
		return []pipeline.Sample{
			{Measure: "github_pr_cycle_time_seconds", Time: r.Merged, Value: r.Hours, Actor: r.Author, TeamKey: r.Repo, Labels: labels},
		}, nil
	}
	return []pipeline.Sample{
		{Measure: "github_pr_merged", Time: r.Merged, Value: 1, Actor: r.Author, TeamKey: r.Repo, Labels: labels},
		{Measure: "github_pr_cycle_time_seconds", Time: r.Merged, Value: r.Hours * 3600, Actor: r.Author, TeamKey: r.Repo, Labels: labels},
	}, nil
}

// daemonOn builds a daemon on an open store with one fake connector and
// prepares it (the start of `kpid run`).
func daemonOn(t *testing.T, st *store.Store, c connectors.Connector, cfg *config.Config) (*Daemon, prometheus.Gatherer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	d, err := New(Options{
		Config: cfg,
		Types: map[string]ConnectorType{"fake": {
			Config: config.ConnectorType{New: func() any { return &fakeOptions{} }},
			Build:  func(any, connectors.Deps) (connectors.Connector, error) { return c, nil },
		}},
		Store: st, Registry: reg, Now: func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Prepare(); err != nil {
		t.Fatal(err)
	}
	return d, prometheus.Gatherers{reg, d.KPIGatherer()}
}

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestOlderDerivationIsRecomputedOnStart writes a store with an older
// normaliser, records the derivation version it was written with, restarts
// (closes and reopens the store, builds a new daemon with this build's
// normaliser and a connector that must not be fetched) and checks that
// Prepare recomputed every sample from the stored records: the KPIs equal
// those of a fresh sync with this build, no API call was made and the
// store now records this build's derivation version. A store already at
// this version is left as it is.
func TestOlderDerivationIsRecomputedOnStart(t *testing.T) {
	records := map[string]fakeRecord{
		"1": {Author: "alice-gh", Repo: "acme/api", Merged: t0.Add(-time.Hour), Hours: 10},
		"2": {Author: "alice-gh", Repo: "acme/api", Merged: t0.Add(-2 * time.Hour), Hours: 20},
		"3": {Author: "stranger", Repo: "acme/web", Merged: t0.Add(-3 * time.Hour), Hours: 30},
		"4": {Author: "stranger", Repo: "acme/web", Merged: t0.Add(-50 * time.Hour), Hours: 4},
	}
	people := []config.Person{{ID: "alice", Team: "platform", Roles: []string{"developer"}, GitHub: "alice-gh"}}

	// What a fresh sync with this build gives.
	fresh := openStore(t, filepath.Join(t.TempDir(), "fresh.db"))
	t.Cleanup(func() { fresh.Close() })
	ref, refReg := daemonOn(t, fresh, &versionedConnector{t: t, records: records}, testConfig(people))
	if err := ref.Sync(context.Background(), "", false); err != nil {
		t.Fatal(err)
	}
	want := series(t, refReg, "kpi_value")
	if len(want) == 0 {
		t.Fatal("no kpi_value series from the fresh sync")
	}

	tests := []struct {
		name      string
		stored    int // derivation version recorded in the store
		recompute bool
	}{
		{"never recorded (0)", 0, true},
		{"older version", connectors.DerivationVersion - 1, true},
		{"newer version (a downgrade)", connectors.DerivationVersion + 1, true},
		{"this version", connectors.DerivationVersion, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kpid.db")
			st := openStore(t, path)
			old, oldReg := daemonOn(t, st, &versionedConnector{t: t, old: true, records: records}, testConfig(people))
			if err := old.Sync(context.Background(), "", false); err != nil {
				t.Fatal(err)
			}
			written := series(t, oldReg, "kpi_value")
			if maps.Equal(written, want) {
				t.Fatal("the old normaliser gives the same KPIs: the test would prove nothing")
			}
			if err := st.SetDerivationVersion(tt.stored); err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}

			st = openStore(t, path)
			t.Cleanup(func() { st.Close() })
			conn := &versionedConnector{t: t, noFetch: true, records: records}
			_, reg := daemonOn(t, st, conn, testConfig(people))
			got := series(t, reg, "kpi_value")
			if n := conn.fetches.Load(); n != 0 {
				t.Fatalf("%d fetches during start", n)
			}
			switch {
			case tt.recompute && !maps.Equal(got, want):
				t.Fatalf("after the recompute on start:\n got %v\nwant %v (a fresh sync)", got, want)
			case !tt.recompute && !maps.Equal(got, written):
				t.Fatalf("a store at this derivation version was changed on start:\n got %v\nwant %v", got, written)
			}
			v, err := st.DerivationVersion()
			if err != nil {
				t.Fatal(err)
			}
			if v != connectors.DerivationVersion {
				t.Fatalf("derivation version %d after start, want %d", v, connectors.DerivationVersion)
			}
		})
	}
}

// TestRecomputeOnStartWithGitHub does the same with the real GitHub
// connector against its simulator: a store synced from the simulator and
// marked as derived by an older version is recomputed on start with no
// request to the simulator, and gives the KPIs it gave before.
func TestRecomputeOnStartWithGitHub(t *testing.T) {
	now := time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	s := githubsim.New(sim.Acme(), now, 7)
	s.SetClock(func() time.Time { return now })
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)

	yaml := "connectors:\n" + s.DemoConnectorYAML("acme-github", srv.URL+"/")
	types := map[string]ConnectorType{"github": {
		Config: config.ConnectorType{New: func() any { return github.DefaultConfig() }},
		Build: func(o any, deps connectors.Deps) (connectors.Connector, error) {
			return github.New(o.(*github.Config), deps)
		},
	}}
	cfg, err := config.Parse("kpid.yaml", []byte(yaml), config.LoadOptions{
		Types:     map[string]config.ConnectorType{"github": types["github"].Config},
		Templates: pipeline.TemplatesFor,
	})
	if err != nil {
		t.Fatal(err)
	}
	start := func(st *store.Store) (*Daemon, prometheus.Gatherer) {
		reg := prometheus.NewRegistry()
		d, err := New(Options{Config: cfg, Types: types, Store: st, Registry: reg, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Prepare(); err != nil {
			t.Fatal(err)
		}
		return d, prometheus.Gatherers{reg, d.KPIGatherer()}
	}

	path := filepath.Join(t.TempDir(), "kpid.db")
	st := openStore(t, path)
	d, reg := start(st)
	if err := d.Sync(context.Background(), "", false); err != nil {
		t.Fatal(err)
	}
	want := series(t, reg, "kpi_value")
	if want["kpi=dev_prs_merged,window=28d"] == 0 || want["kpi=deploy_frequency,window=28d"] == 0 {
		t.Fatalf("the sync gave no GitHub KPIs: %v", want)
	}
	if err := st.SetDerivationVersion(0); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	s.Recorder().Reset()
	st = openStore(t, path)
	t.Cleanup(func() { st.Close() })
	_, reg = start(st)
	if n := s.Recorder().Total(); n != 0 {
		t.Fatalf("%d requests to GitHub during the recompute on start: %v", n, s.Recorder().Counts())
	}
	if got := series(t, reg, "kpi_value"); !maps.Equal(got, want) {
		t.Fatalf("KPIs after the recompute on start differ:\n got %v\nwant %v", got, want)
	}
	if v, err := st.DerivationVersion(); err != nil || v != connectors.DerivationVersion {
		t.Fatalf("derivation version %d (%v), want %d", v, err, connectors.DerivationVersion)
	}
}

// TestNewStoreIsStampedWithoutRecompute checks that a new store takes this
// build's derivation version on start, with no recompute (nothing to
// re-derive) and no fetch.
func TestNewStoreIsStampedWithoutRecompute(t *testing.T) {
	var logs bytes.Buffer
	st := openStore(t, filepath.Join(t.TempDir(), "kpid.db"))
	t.Cleanup(func() { st.Close() })
	conn := &versionedConnector{t: t, noFetch: true}
	d, err := New(Options{
		Config: testConfig(nil),
		Types: map[string]ConnectorType{"fake": {
			Config: config.ConnectorType{New: func() any { return &fakeOptions{} }},
			Build:  func(any, connectors.Deps) (connectors.Connector, error) { return conn, nil },
		}},
		Store: st, Registry: prometheus.NewRegistry(), Now: func() time.Time { return t0 },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Prepare(); err != nil {
		t.Fatal(err)
	}
	if v, err := st.DerivationVersion(); err != nil || v != connectors.DerivationVersion {
		t.Fatalf("derivation version %d (%v) after start, want %d", v, err, connectors.DerivationVersion)
	}
	if strings.Contains(logs.String(), "recomput") {
		t.Errorf("a new store was recomputed:\n%s", logs.String())
	}
}
