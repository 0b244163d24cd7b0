package blackbox

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestHarness runs kpid against an upstream with nothing in it: the sync
// succeeds, a count KPI is 0 with 0 samples, a percentile has no value.
func TestHarness(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("[]"))
	}))
	t.Cleanup(up.Close)
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	d := Start(t, `
connectors:
  - name: gh
    type: github
    schedule: "@every 1h"
    base_url: `+up.URL+`/
    token: t
    repos: [acme/api]
kpis:
  - {id: merged, measure: github_pr_merged, stat: count, window: 28d}
  - {id: cycle, measure: github_pr_cycle_time_seconds, stat: p50, window: 28d}
`, now)
	m := d.WaitSynced(t, "gh")
	if v := m.Value("kpid_connector_up", "connector", "gh"); v != 1 {
		t.Errorf("kpid_connector_up = %v", v)
	}
	want := map[string]float64{
		Key("kpi_value", "kpi", "merged", "window", "28d"):   0,
		Key("kpi_samples", "kpi", "merged", "window", "28d"): 0,
	}
	if got := m.KPI("merged"); !equal(got, want) {
		t.Errorf("merged: got %v, want %v", got, want)
	}
	if _, ok := m.Lookup("kpi_value", "kpi", "cycle", "window", "28d"); ok {
		t.Error("a p50 over no sample has a value")
	}
	if v, ok := m.Lookup("kpi_samples", "kpi", "cycle", "window", "28d"); !ok || v != 0 {
		t.Errorf("cycle samples = %v, %v", v, ok)
	}
}

func equal(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
