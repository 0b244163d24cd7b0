package jira

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/pipeline"
)

// Measures derived by the normaliser (SPEC §4.1).
const (
	MeasureIssuesDone = "jira_issues_done"
	MeasureCycleTime  = "jira_cycle_time_seconds"
	MeasureLeadTime   = "jira_lead_time_seconds"
	MeasureDoneOnTime = "jira_done_on_time"
	MeasureReopened   = "jira_issue_reopened"
	MeasureWIP        = "jira_wip"
)

// rules are the connector options the normaliser applies; they come from
// the config only, so `kpid recompute` applies changed options to stored
// records without an API call.
type rules struct {
	inProgress map[string]bool // lowercased names or ids; nil: by category
	done       map[string]bool // lowercased names or ids; nil: by category
	points     bool            // a points field is configured
	zone       *time.Location  // the `timezone` option; nil: the record's zone
}

func newRules(cfg *Config) (rules, error) {
	r := rules{points: strings.TrimSpace(cfg.PointsField) != ""}
	set := func(names []string) map[string]bool {
		if len(names) == 0 {
			return nil
		}
		m := make(map[string]bool, len(names))
		for _, n := range names {
			if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
				m[n] = true
			}
		}
		return m
	}
	r.inProgress = set(cfg.InProgressStatuses)
	r.done = set(cfg.DoneStatuses)
	if cfg.Timezone != "" {
		loc, err := time.LoadLocation(cfg.Timezone)
		if err != nil {
			return r, fmt.Errorf("load time zone %q: %w", cfg.Timezone, err)
		}
		r.zone = loc
	}
	return r, nil
}

// class says what a status is for the measures.
type class struct{ inProgress, done bool }

// classify a status of a record: by its id where the record has one (so a
// status renamed or translated since is still recognised), by name
// otherwise. Configured status lists match the status's current name, the
// name the changelog recorded, or its id.
func (r rules) classify(statuses map[string]statusInfo, id, name string) class {
	info, known := statusInfo{}, false
	if id != "" {
		info, known = statuses[id]
	}
	if !known && name != "" {
		for _, s := range statuses {
			if strings.EqualFold(s.Name, name) {
				info, known = s, true
				break
			}
		}
		if !known {
			info = statusInfo{Name: name}
		}
	}
	match := func(set map[string]bool) bool {
		return (id != "" && set[strings.ToLower(id)]) ||
			(info.Name != "" && set[strings.ToLower(strings.TrimSpace(info.Name))]) ||
			(name != "" && set[strings.ToLower(strings.TrimSpace(name))])
	}
	var c class
	if r.done != nil {
		c.done = match(r.done)
	} else {
		c.done = info.Category == categoryDone
	}
	if r.inProgress != nil {
		c.inProgress = match(r.inProgress)
	} else {
		c.inProgress = info.Category == categoryInProgress
	}
	if c.done {
		c.inProgress = false
	}
	return c
}

// Normalize derives the samples of a record (pure: the same record and
// options always give the same samples).
func (c *Connector) Normalize(rec connectors.Record) ([]pipeline.Sample, error) {
	return c.rules.normalize(rec)
}

func (r rules) normalize(rec connectors.Record) ([]pipeline.Sample, error) {
	switch rec.Kind {
	case KindIssue:
		var d issueData
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			return nil, fmt.Errorf("decode jira issue record %s: %w", rec.ID, err)
		}
		return r.issueSamples(d), nil
	case KindOpenIssue:
		var d openIssueData
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			return nil, fmt.Errorf("decode jira open issue record %s: %w", rec.ID, err)
		}
		return r.openIssueSamples(d), nil
	default:
		return nil, fmt.Errorf("normalize jira record %s: unknown kind %q", rec.ID, rec.Kind)
	}
}

// timelineEntry is a status the issue entered, and when.
type timelineEntry struct {
	at       time.Time
	id, name string
}

// timeline is the issue's statuses in order: the status it was created in
// (the first change's source, or the current status when it never
// changed), then every status it entered.
func (d issueData) timeline() []timelineEntry {
	out := make([]timelineEntry, 0, len(d.Changes)+1)
	if len(d.Changes) == 0 {
		return append(out, timelineEntry{at: d.Created, id: d.Status.ID, name: d.Status.Name})
	}
	first := d.Changes[0]
	out = append(out, timelineEntry{at: d.Created, id: first.From, name: first.FromName})
	for _, c := range d.Changes {
		out = append(out, timelineEntry{at: c.At, id: c.To, name: c.ToName})
	}
	return out
}

// outcome is what the measures of a done issue derive from.
type outcome struct {
	isDone          bool
	doneAt          time.Time
	firstInProgress time.Time // zero: never in progress
	reopened        bool
}

// evaluate reads the issue's status history with the rules.
func (r rules) evaluate(d issueData) outcome {
	statuses := d.Statuses
	if statuses == nil {
		statuses = map[string]statusInfo{}
	}
	cur := r.classify(statuses, d.Status.ID, d.Status.Name)
	if d.Status.ID == "" && r.done == nil && d.Status.Category != "" {
		cur.done = d.Status.Category == categoryDone
	}
	o := outcome{isDone: cur.done}
	var lastDoneEntry time.Time
	prevDone := false
	for i, e := range d.timeline() {
		c := r.classify(statuses, e.id, e.name)
		if c.inProgress && o.firstInProgress.IsZero() {
			o.firstInProgress = e.at
		}
		if c.done && (i == 0 || !prevDone) {
			lastDoneEntry = e.at
		}
		if i > 0 && prevDone && !c.done {
			o.reopened = true
		}
		prevDone = c.done
	}
	switch {
	case !d.Resolved.IsZero():
		o.doneAt = d.Resolved
	default:
		o.doneAt = lastDoneEntry
	}
	return o
}

// leadTime is resolutiondate − created when both are set: the lead time of
// the record whether or not the issue is done now (the recorded oracle
// checks it on resolved issues of every status).
func leadTime(d issueData) (time.Duration, bool) {
	if d.Resolved.IsZero() || d.Created.IsZero() {
		return 0, false
	}
	return d.Resolved.Sub(d.Created), true
}

// endOfDay is the end of a due date in loc: the first instant of the next
// day (a done time before it is on time).
func endOfDay(date string, loc *time.Location) (time.Time, bool) {
	t, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		return time.Time{}, false
	}
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc), true
}

func (r rules) issueSamples(d issueData) []pipeline.Sample {
	o := r.evaluate(d)
	if !o.isDone || o.doneAt.IsZero() {
		return nil
	}
	at := o.doneAt.UTC()
	labels := func() map[string]string {
		l := map[string]string{"project": d.Project}
		if d.Type != "" {
			l["issue_type"] = d.Type
		}
		return l
	}
	sample := func(measure string, v float64) pipeline.Sample {
		return pipeline.Sample{Measure: measure, Time: at, Value: v, Actor: d.Assignee, TeamKey: d.Project, Labels: labels()}
	}
	// SPEC §4.1: points, 1 if no points field — an issue without a value
	// in the points field weighs 1, like every issue when points_field is
	// not set (§2).
	weight := 1.0
	if r.points && d.Points != nil {
		weight = *d.Points
	}
	out := []pipeline.Sample{sample(MeasureIssuesDone, weight)}
	if !o.firstInProgress.IsZero() && !o.doneAt.Before(o.firstInProgress) {
		out = append(out, sample(MeasureCycleTime, o.doneAt.Sub(o.firstInProgress).Seconds()))
	}
	if !o.doneAt.Before(d.Created) {
		out = append(out, sample(MeasureLeadTime, o.doneAt.Sub(d.Created).Seconds()))
	}
	if d.Due != "" {
		loc := r.zone
		if loc == nil {
			loc = time.UTC
			if d.Zone != "" {
				if z, err := time.LoadLocation(d.Zone); err == nil {
					loc = z
				}
			}
		}
		if end, ok := endOfDay(d.Due, loc); ok {
			v := 0.0
			if o.doneAt.Before(end) {
				v = 1
			}
			out = append(out, sample(MeasureDoneOnTime, v))
		}
	}
	reopened := 0.0
	if o.reopened {
		reopened = 1
	}
	out = append(out, sample(MeasureReopened, reopened))
	return out
}

func (r rules) openIssueSamples(d openIssueData) []pipeline.Sample {
	statuses := map[string]statusInfo{}
	if d.Status.ID != "" {
		statuses[d.Status.ID] = statusInfo{Name: d.Status.Name, Category: d.Status.Category}
	}
	c := r.classify(statuses, d.Status.ID, d.Status.Name)
	if d.Status.ID == "" && r.inProgress == nil {
		c.inProgress = d.Status.Category == categoryInProgress
	}
	if !c.inProgress {
		return nil
	}
	labels := map[string]string{"project": d.Project}
	if d.Type != "" {
		labels["issue_type"] = d.Type
	}
	return []pipeline.Sample{{
		Measure: MeasureWIP, Time: d.Listed.UTC(), Value: 1,
		Actor: d.Assignee, TeamKey: d.Project, Labels: labels,
	}}
}
