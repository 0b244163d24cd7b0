package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kpid/kpid/pipeline"
)

// kpiYAML is a `kpis` entry as written (SPEC §2). Pointers tell a key left
// out from a key given empty.
type kpiYAML struct {
	ID          string            `yaml:"id"`
	Title       string            `yaml:"title"`
	Measure     string            `yaml:"measure"`
	Stat        string            `yaml:"stat"`
	Window      *string           `yaml:"window"`
	Windows     *[]string         `yaml:"windows"`
	Target      *string           `yaml:"target"`
	Targets     map[string]string `yaml:"targets"`
	Threshold   *string           `yaml:"threshold"`
	Per         string            `yaml:"per"`
	Baseline    *Duration         `yaml:"baseline"`
	Direction   string            `yaml:"direction"`
	Category    string            `yaml:"category"`
	Kind        string            `yaml:"kind"`
	Owner       string            `yaml:"owner"`
	Cadence     string            `yaml:"cadence"`
	Description string            `yaml:"description"`
	Scope       *[]string         `yaml:"scope"`
	Roles       []string          `yaml:"roles"`
	Filter      map[string]string `yaml:"filter"`
}

// Allowed values of the KPI keys.
var (
	stats = []string{
		pipeline.StatCount, pipeline.StatSum, pipeline.StatMean, pipeline.StatMin, pipeline.StatMax,
		pipeline.StatP50, pipeline.StatP75, pipeline.StatP90, pipeline.StatP95,
		pipeline.StatFractionLE, pipeline.StatFractionGE,
	}
	scopes     = []string{pipeline.ScopeOrg, pipeline.ScopeTeam, pipeline.ScopePerson}
	directions = []string{pipeline.Lower, pipeline.Higher}
	categories = []string{"delivery", "quality", "impact", "flow", "reliability"}
	kinds      = []string{"output", "quality", "leading"}
	cadences   = []string{"weekly", "monthly", "quarterly"}
	pers       = []string{"week", "month"}
	// filterLabels are the sample labels of each source (SPEC §4).
	filterLabels = map[string][]string{
		"github":  {"repo", "environment"},
		"zendesk": {"priority", "group"},
		"hubspot": {"pipeline"},
		"jira":    {"project", "issue_type"},
	}
)

// kpiPath is the path of the i-th KPI: "kpis[i]" for KPIs of the file,
// "" for templates (they have no place in the file).
func (l *loader) kpiPath(i int) string {
	if !l.kpisSet {
		return ""
	}
	return indexPath("kpis", i)
}

func isFraction(stat string) bool {
	return stat == pipeline.StatFractionLE || stat == pipeline.StatFractionGE
}

// valueUnit is the unit of a KPI's values, hence of its target: a share for
// fraction stats, a number of samples for count (and for the sum of 0/1
// samples), else the measure's unit.
func valueUnit(stat string, m pipeline.Measure) string {
	switch {
	case isFraction(stat):
		return pipeline.UnitRatio
	case stat == pipeline.StatCount:
		return pipeline.UnitCount
	case stat == pipeline.StatSum && m.Unit == pipeline.UnitRatio:
		return pipeline.UnitCount
	default:
		return m.Unit
	}
}

// parseValue parses a target or threshold in the given unit: a number
// ("15", "0.9"), a percentage ("90%" → 0.9) unless the unit is seconds,
// and for seconds a duration ("48h" → 172800) as well.
func parseValue(s, unit string) (float64, error) {
	s = strings.TrimSpace(s)
	seconds := unit == pipeline.UnitSeconds
	want := "want a number (15, 0.9) or a percentage (90%)"
	if seconds {
		want = "want a duration (48h, 2d) or a number of seconds"
	}
	var v float64
	if num, ok := strings.CutSuffix(s, "%"); ok {
		if seconds {
			return 0, fmt.Errorf("%q: a percentage makes no sense in seconds: %s", s, want)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%q: %s", s, want)
		}
		v = f / 100
	} else if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		v = f
	} else if d, derr := ParseDuration(s); derr == nil && s != "" {
		if !seconds {
			return 0, fmt.Errorf("%q: a duration needs a measure in seconds (these values are in %s): %s", s, unitNoun(unit), want)
		}
		v = d.Seconds()
	} else {
		return 0, fmt.Errorf("%q: %s", s, want)
	}
	if seconds && v < 0 {
		return 0, fmt.Errorf("%q: a duration must not be negative", s)
	}
	if unit == pipeline.UnitRatio && (v < 0 || v > 1) {
		return 0, fmt.Errorf("%q: a share must be between 0 and 1 (write 0.9 or 90%%)", s)
	}
	return v, nil
}

func unitNoun(unit string) string {
	switch unit {
	case pipeline.UnitRatio:
		return "shares (0..1)"
	case pipeline.UnitCount:
		return "counts"
	case pipeline.UnitCurrency:
		return "amounts"
	case pipeline.UnitPoints:
		return "points"
	case "":
		return "an unknown unit"
	}
	return unit
}

// oneOf reports value at path when it is not one of allowed.
func (l *loader) oneOf(path, what, value string, allowed []string) bool {
	if slices.Contains(allowed, value) {
		return true
	}
	msg := fmt.Sprintf("unknown %s %q (want %s)", what, value, strings.Join(allowed, ", "))
	if s := suggest(value, allowed); s != "" {
		msg = fmt.Sprintf("unknown %s %q (did you mean %q?)", what, value, s)
	}
	l.d.addAt(path, "%s", msg)
	return false
}

func (l *loader) hasConnectorType(t string) bool {
	for _, c := range l.cfg.Connectors {
		if c.Type == t {
			return true
		}
	}
	return false
}

func (l *loader) resolveKPIs() []pipeline.KPI {
	out := make([]pipeline.KPI, len(l.rawKPIs))
	ids := map[string]string{}
	for i := range l.rawKPIs {
		p := indexPath("kpis", i)
		out[i] = l.resolveKPI(&l.rawKPIs[i], p)
		idp := p + ".id"
		id := out[i].ID
		switch prev, dup := ids[id]; {
		case id == "":
			l.d.addAt(idp, "required")
		case !kpiIDRe.MatchString(id):
			l.d.addAt(idp, "invalid kpi id %q: use lowercase letters, digits and \"_\"", id)
		case dup:
			l.d.addAt(idp, "duplicate kpi id %q (first at line %d)", id, l.d.lineOf(prev))
		default:
			ids[id] = idp
		}
	}
	return out
}

func (l *loader) resolveKPI(r *kpiYAML, p string) pipeline.KPI {
	d := l.d
	k := pipeline.KPI{
		ID:          r.ID,
		Title:       r.Title,
		Measure:     r.Measure,
		Stat:        r.Stat,
		Per:         r.Per,
		Direction:   r.Direction,
		Category:    r.Category,
		Kind:        r.Kind,
		Owner:       r.Owner,
		Cadence:     r.Cadence,
		Description: r.Description,
		Roles:       r.Roles,
		Filter:      r.Filter,
	}
	if k.Title == "" {
		k.Title = k.ID
	}

	m, known := pipeline.LookupMeasure(r.Measure)
	switch {
	case r.Measure == "":
		d.addAt(p+".measure", "required")
	case !known:
		names := make([]string, 0, 40)
		for _, ms := range pipeline.Measures() {
			names = append(names, ms.Name)
		}
		if s := suggest(r.Measure, names); s != "" {
			d.addAt(p+".measure", "unknown measure %q (did you mean %q?)", r.Measure, s)
		} else {
			d.addAt(p+".measure", "unknown measure %q", r.Measure)
		}
	case !l.hasConnectorType(m.Source):
		d.addAt(p+".measure", "measure %q comes from %s, but no connector of type %s is configured", r.Measure, m.Source, m.Source)
	}

	// stat
	statOK := false
	switch {
	case k.Stat == "" && known && m.Snapshot:
		k.Stat = pipeline.StatCount
		statOK = true
	case k.Stat == "":
		d.addAt(p+".stat", "required (one of %s)", strings.Join(stats, ", "))
	default:
		statOK = l.oneOf(p+".stat", "stat", k.Stat, stats)
	}
	// A snapshot measure (SPEC §4.2) is exposed with stat count whatever
	// the KPI says, and takes no per and no baseline: what a KPI asks
	// beyond that is ignored with a warning, not refused.
	snapshot := known && m.Snapshot
	if snapshot && statOK && k.Stat != pipeline.StatCount {
		l.warn(p+".stat", "measure %q is a snapshot of open items: it is counted (stat count), not %s", m.Name, k.Stat)
		k.Stat = pipeline.StatCount
	}

	// windows
	k.Windows = l.resolveWindows(r, p)

	// threshold
	switch {
	case r.Threshold != nil && snapshot:
		l.warn(p+".threshold", "measure %q is a snapshot of open items: threshold is not used", m.Name)
	case r.Threshold != nil && statOK && !isFraction(k.Stat):
		d.addAt(p+".threshold", "threshold is only used by stat fraction_le or fraction_ge")
	case r.Threshold != nil && known:
		if v, err := parseValue(*r.Threshold, m.Unit); err != nil {
			d.addAt(p+".threshold", "invalid threshold %v", err)
		} else {
			k.Threshold = v
		}
	case r.Threshold == nil && statOK && isFraction(k.Stat):
		d.addAt(p+".threshold", "required with stat %s (the value samples are compared with)", k.Stat)
	}

	// per
	if k.Per != "" && l.oneOf(p+".per", "per", k.Per, pers) && statOK {
		switch {
		case snapshot:
			l.warn(p+".per", "measure %q is a snapshot of open items: per does not apply, the open items are counted", m.Name)
			k.Per = ""
		case k.Stat != pipeline.StatCount && k.Stat != pipeline.StatSum:
			d.addAt(p+".per", "per only applies to stat count or sum, not %s", k.Stat)
		}
	}

	// targets
	if known && statOK {
		unit := valueUnit(k.Stat, m)
		if r.Target != nil {
			if v, err := parseValue(*r.Target, unit); err != nil {
				d.addAt(p+".target", "invalid target %v", err)
			} else {
				k.Target = &v
			}
		}
		for _, key := range sortedKeys(r.Targets) {
			kp := keyPath(p+".targets", key)
			if !l.checkTargetKey(kp, key) {
				continue
			}
			v, err := parseValue(r.Targets[key], unit)
			if err != nil {
				d.addAt(kp, "invalid target %v", err)
				continue
			}
			if k.Targets == nil {
				k.Targets = map[string]float64{}
			}
			k.Targets[key] = v
		}
	} else {
		for _, key := range sortedKeys(r.Targets) {
			l.checkTargetKey(keyPath(p+".targets", key), key)
		}
	}

	// baseline
	if r.Baseline != nil {
		k.Baseline = r.Baseline.D()
		if snapshot && k.Baseline > 0 {
			l.warn(p+".baseline", "measure %q is a snapshot of open items: it takes no baseline (ignored)", m.Name)
			k.Baseline = 0
		}
	}

	// direction
	switch {
	case k.Direction != "":
		l.oneOf(p+".direction", "direction", k.Direction, directions)
	case isFraction(k.Stat):
		k.Direction = pipeline.Higher
	case known:
		k.Direction = m.Direction
	}

	if k.Category != "" {
		l.oneOf(p+".category", "category", k.Category, categories)
	}
	if k.Kind != "" {
		l.oneOf(p+".kind", "kind", k.Kind, kinds)
	}
	if k.Cadence != "" {
		l.oneOf(p+".cadence", "cadence", k.Cadence, cadences)
	}

	// scope
	if r.Scope == nil {
		k.Scope = []string{pipeline.ScopeOrg, pipeline.ScopeTeam}
	} else {
		k.Scope = *r.Scope
		if len(k.Scope) == 0 {
			d.addAt(p+".scope", "must not be empty (default [org, team])")
		}
		seen := map[string]bool{}
		for j, s := range k.Scope {
			sp := indexPath(p+".scope", j)
			if !l.oneOf(sp, "scope", s, scopes) {
				continue
			}
			if seen[s] {
				d.addAt(sp, "duplicate scope %q", s)
			}
			seen[s] = true
		}
	}

	for j, role := range k.Roles {
		if strings.TrimSpace(role) == "" {
			d.addAt(indexPath(p+".roles", j), "role must not be empty")
		}
	}

	if known && len(k.Filter) > 0 {
		allowed := filterLabels[m.Source]
		for _, key := range sortedKeys(k.Filter) {
			if !slices.Contains(allowed, key) {
				d.addAt(keyPath(p+".filter", key), "unknown label %q for %s measures (labels: %s)", key, m.Source, strings.Join(allowed, ", "))
			}
		}
	}
	return k
}

func (l *loader) resolveWindows(r *kpiYAML, p string) []pipeline.Window {
	d := l.d
	var (
		texts []string
		paths []string
	)
	switch {
	case r.Window != nil && r.Windows != nil:
		d.addAt(p+".windows", "window and windows are mutually exclusive")
		return nil
	case r.Window != nil:
		texts, paths = []string{*r.Window}, []string{p + ".window"}
	case r.Windows != nil:
		if len(*r.Windows) == 0 {
			d.addAt(p+".windows", "must not be empty")
			return nil
		}
		texts = *r.Windows
		for j := range texts {
			paths = append(paths, indexPath(p+".windows", j))
		}
	default:
		d.addAt(p+".window", "required (e.g. window: 28d, or windows: [7d, 28d, 90d])")
		return nil
	}
	var out []pipeline.Window
	seen := map[time.Duration]string{}
	for j, text := range texts {
		dur, err := ParseDuration(text)
		switch {
		case err != nil:
			d.addAt(paths[j], "%v", err)
			continue
		case dur <= 0:
			d.addAt(paths[j], "window %q must be positive", text)
			continue
		}
		if prev, dup := seen[dur]; dup {
			d.addAt(paths[j], "duplicate window %q (same as %q)", text, prev)
			continue
		}
		seen[dur] = text
		out = append(out, pipeline.Window{Name: text, Duration: dur})
	}
	return out
}

// checkTargetKey checks a `targets` key: "team:NAME" with NAME in teams
// (when set), or "person:ID" with ID a declared person.
func (l *loader) checkTargetKey(path, key string) bool {
	kind, name, _ := strings.Cut(key, ":")
	switch {
	case name == "" || (kind != pipeline.ScopeTeam && kind != pipeline.ScopePerson):
		l.d.addAt(path, "invalid target key %q: want team:NAME or person:ID", key)
		return false
	case kind == pipeline.ScopeTeam:
		n := len(l.d.probs)
		l.checkTeamRef(path, name)
		return len(l.d.probs) == n
	default:
		for _, pr := range l.cfg.People {
			if pr.ID == name {
				return true
			}
		}
		l.d.addAt(path, "person %q is not in people", name)
		return false
	}
}

// kpiHistory is how much history a KPI reads: its largest window plus its
// baseline (0 for snapshot measures, which describe now).
func kpiHistory(k pipeline.KPI) time.Duration {
	if m, ok := pipeline.LookupMeasure(k.Measure); ok && m.Snapshot {
		return 0
	}
	return largestWindow(k).Duration + k.Baseline
}

func largestWindow(k pipeline.KPI) pipeline.Window {
	var w pipeline.Window
	for _, x := range k.Windows {
		if x.Duration > w.Duration {
			w = x
		}
	}
	return w
}
