package config

import (
	"slices"
	"sort"
	"strings"

	"github.com/kpid/kpid/pipeline"
)

// Lint limits of SPEC §6.4: a few KPIs per role.
const (
	maxPersonKPIsPerRole = 3
	maxKPIsPerRole       = 7
)

// lint adds the warnings of SPEC §6.4. They never fail a load.
func (l *loader) lint() {
	l.lintRoles()
	for i, k := range l.cfg.KPIs {
		p := l.kpiPath(i)
		switch m, _ := pipeline.LookupMeasure(k.Measure); {
		case k.Target != nil || len(k.Targets) > 0:
		case m.Snapshot:
			l.warn(p, "kpi %q has no target (a snapshot of open items takes no baseline: set a target from its current value)", k.ID)
		case k.Baseline == 0:
			l.warn(p, "kpi %q has neither a target nor a baseline: measure a baseline first, then set the target", k.ID)
		}
		if strings.TrimSpace(k.Owner) == "" {
			l.warn(p, "kpi %q has no owner", k.ID)
		}
		if k.Cadence == "" {
			l.warn(p, "kpi %q has no review cadence (weekly, monthly or quarterly)", k.ID)
		}
		if k.Category == "impact" && slices.Contains(k.Scope, pipeline.ScopePerson) {
			sp := p
			if p != "" {
				sp = p + ".scope"
			}
			l.warn(sp, "kpi %q: person scope on an impact KPI (impact belongs to teams)", k.ID)
		}
	}
	l.lintLookback()
}

// lintRoles checks each role named in KPI roles: at most 3 person-scope
// KPIs and 7 in all, and one output, one quality and one leading KPI.
func (l *loader) lintRoles() {
	byRole := map[string][]int{}
	var roles []string
	for i, k := range l.cfg.KPIs {
		for _, r := range k.Roles {
			if r == "" || slices.Contains(byRole[r], i) {
				continue
			}
			if _, ok := byRole[r]; !ok {
				roles = append(roles, r)
			}
			byRole[r] = append(byRole[r], i)
		}
	}
	sort.Strings(roles)
	for _, r := range roles {
		idx := byRole[r]
		rolesPath := func(i int) string {
			if p := l.kpiPath(i); p != "" {
				return p + ".roles"
			}
			return ""
		}
		var person []string
		for _, i := range idx {
			if slices.Contains(l.cfg.KPIs[i].Scope, pipeline.ScopePerson) {
				person = append(person, l.cfg.KPIs[i].ID)
			}
		}
		if len(person) > maxPersonKPIsPerRole {
			l.warn(rolesPath(l.nthPersonKPI(idx, maxPersonKPIsPerRole)), "role %q has %d KPIs at person scope (%s): keep at most %d, one output, one quality and one leading",
				r, len(person), strings.Join(person, ", "), maxPersonKPIsPerRole)
		}
		if len(idx) > maxKPIsPerRole {
			ids := make([]string, len(idx))
			for j, i := range idx {
				ids[j] = l.cfg.KPIs[i].ID
			}
			l.warn(rolesPath(idx[maxKPIsPerRole]), "role %q has %d KPIs (%s): keep at most %d",
				r, len(idx), strings.Join(ids, ", "), maxKPIsPerRole)
		}
		for _, kind := range kinds {
			found := false
			for _, i := range idx {
				if l.cfg.KPIs[i].Kind == kind {
					found = true
					break
				}
			}
			if !found {
				l.warn(rolesPath(idx[0]), "role %q has no %s KPI (a role needs one output, one quality and one leading KPI)", r, kind)
			}
		}
	}
}

// nthPersonKPI returns the KPI index (from idx) of the n-th (0-based)
// person-scope KPI.
func (l *loader) nthPersonKPI(idx []int, n int) int {
	for _, i := range idx {
		if slices.Contains(l.cfg.KPIs[i].Scope, pipeline.ScopePerson) {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return idx[len(idx)-1]
}

// lintLookback warns about a connector whose lookback is shorter than the
// history a KPI over its measures reads (window + baseline): the first
// sync would not fetch what the baseline claims to cover.
func (l *loader) lintLookback() {
	for ci, c := range l.cfg.Connectors {
		if _, ok := l.o.Types[c.Type]; !ok {
			continue
		}
		worst, need := -1, c.Lookback.D()
		for i, k := range l.cfg.KPIs {
			m, ok := pipeline.LookupMeasure(k.Measure)
			if !ok || m.Source != c.Type {
				continue
			}
			if h := kpiHistory(k); h > need {
				worst, need = i, h
			}
		}
		if worst < 0 {
			continue
		}
		k := l.cfg.KPIs[worst]
		l.warn(l.connPaths[ci]+".lookback", "lookback %s is shorter than kpi %q's window %s + baseline %s (%s): the baseline would cover less history than it says",
			FormatDuration(c.Lookback.D()), k.ID, largestWindow(k).Name, FormatDuration(k.Baseline), FormatDuration(need))
	}
}
