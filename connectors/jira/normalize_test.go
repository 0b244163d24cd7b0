package jira

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/pipeline"
)

// Statuses of the table tests (ids as on a fresh Jira Cloud site).
var testStatuses = map[string]statusInfo{
	"10000": {Name: "To Do", Category: categoryNew},
	"3":     {Name: "In Progress", Category: categoryInProgress},
	"10001": {Name: "In Review", Category: categoryInProgress},
	"10002": {Name: "Done", Category: categoryDone},
	"10003": {Name: "Won't Do", Category: categoryDone},
	"10004": {Name: "Doing", Category: categoryNew},     // custom, miscategorised
	"10005": {Name: "Shipped", Category: categoryNew},   // custom, miscategorised
	"10006": {Name: "Closed", Category: categoryDone},   // a second done status
	"10007": {Name: "Cancelled", Category: categoryNew}, // custom
}

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func ch(h float64, from, to string) statusChange {
	return statusChange{At: at(h), From: from, FromName: testStatuses[from].Name, To: to, ToName: testStatuses[to].Name}
}

// issue builds the record data of an issue created at t0, now in status
// cur, with the given changes.
func issue(cur string, resolved float64, changes ...statusChange) issueData {
	d := issueData{
		Key: "ENG-1", Project: "ENG", Type: "Story", Assignee: "acc-1",
		Created:  t0,
		Status:   statusRef{ID: cur, Name: testStatuses[cur].Name, Category: testStatuses[cur].Category},
		Changes:  changes,
		Statuses: testStatuses,
	}
	if resolved >= 0 {
		d.Resolved = at(resolved)
	}
	return d
}

func record(t *testing.T, kind string, d any) connectors.Record {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return connectors.Record{Kind: kind, ID: "10001", Data: b}
}

// byMeasure indexes samples by measure, failing on duplicates.
func byMeasure(t *testing.T, ss []pipeline.Sample) map[string]pipeline.Sample {
	t.Helper()
	m := map[string]pipeline.Sample{}
	for _, s := range ss {
		if _, dup := m[s.Measure]; dup {
			t.Fatalf("two %s samples", s.Measure)
		}
		m[s.Measure] = s
	}
	return m
}

func TestNormalizeIssue(t *testing.T) {
	pts := func(v float64) *float64 { return &v }
	type want map[string]float64 // measure -> value; absent: no sample
	tests := []struct {
		name   string
		cfg    Config
		data   issueData
		doneAt time.Time // sample time of every sample
		want   want
	}{
		{
			name:   "straight to done",
			data:   issue("10002", 10, ch(10, "10000", "10002")),
			doneAt: at(10),
			want:   want{MeasureIssuesDone: 1, MeasureLeadTime: 10 * 3600, MeasureReopened: 0},
		},
		{
			name:   "via in progress",
			data:   issue("10002", 30, ch(4, "10000", "3"), ch(20, "3", "10001"), ch(30, "10001", "10002")),
			doneAt: at(30),
			want:   want{MeasureIssuesDone: 1, MeasureCycleTime: 26 * 3600, MeasureLeadTime: 30 * 3600, MeasureReopened: 0},
		},
		{
			name: "reopened then done",
			data: issue("10002", 60,
				ch(4, "10000", "3"), ch(10, "3", "10002"), ch(20, "10002", "3"), ch(60, "3", "10002")),
			doneAt: at(60),
			want:   want{MeasureIssuesDone: 1, MeasureCycleTime: 56 * 3600, MeasureLeadTime: 60 * 3600, MeasureReopened: 1},
		},
		{
			name: "reopened and open",
			data: issue("3", -1, ch(4, "10000", "3"), ch(10, "3", "10002"), ch(20, "10002", "3")),
			want: want{},
		},
		{
			name: "resolved while in a status that is not done",
			data: issue("10000", 10, ch(10, "10000", "10000")),
			want: want{},
		},
		{
			name:   "done without resolution date: last entry into the done statuses",
			data:   issue("10006", -1, ch(2, "10000", "3"), ch(5, "3", "10002"), ch(8, "10002", "3"), ch(12, "3", "10002"), ch(40, "10002", "10006")),
			doneAt: at(12),
			want:   want{MeasureIssuesDone: 1, MeasureCycleTime: 10 * 3600, MeasureLeadTime: 12 * 3600, MeasureReopened: 1},
		},
		{
			name:   "done to another done status is not a reopening",
			data:   issue("10006", 5, ch(2, "10000", "3"), ch(5, "3", "10002"), ch(40, "10002", "10006")),
			doneAt: at(5),
			want:   want{MeasureIssuesDone: 1, MeasureCycleTime: 3 * 3600, MeasureLeadTime: 5 * 3600, MeasureReopened: 0},
		},
		{
			name:   "created done, no changelog",
			data:   issue("10002", -1),
			doneAt: t0,
			want:   want{MeasureIssuesDone: 1, MeasureLeadTime: 0, MeasureReopened: 0},
		},
		{
			name:   "won't do counts as done (category done)",
			data:   issue("10003", 3, ch(3, "10000", "10003")),
			doneAt: at(3),
			want:   want{MeasureIssuesDone: 1, MeasureLeadTime: 3 * 3600, MeasureReopened: 0},
		},
		{
			name:   "resolution date before the first entry into progress: no cycle time",
			data:   issue("10002", 1, ch(4, "10000", "3"), ch(5, "3", "10002")),
			doneAt: at(1),
			want:   want{MeasureIssuesDone: 1, MeasureLeadTime: 3600, MeasureReopened: 0},
		},
		{
			name:   "custom statuses",
			cfg:    Config{InProgressStatuses: []string{"doing"}, DoneStatuses: []string{"Shipped", "Won't Do"}},
			data:   issue("10005", -1, ch(2, "10000", "10004"), ch(6, "10004", "3"), ch(9, "3", "10005")),
			doneAt: at(9),
			want:   want{MeasureIssuesDone: 1, MeasureCycleTime: 7 * 3600, MeasureLeadTime: 9 * 3600, MeasureReopened: 0},
		},
		{
			name: "custom done statuses exclude the category",
			cfg:  Config{DoneStatuses: []string{"Shipped"}},
			data: issue("10002", 5, ch(2, "10000", "3"), ch(5, "3", "10002")),
			want: want{},
		},
		{
			name: "renamed status matched by id",
			cfg:  Config{InProgressStatuses: []string{"In Development"}},
			data: func() issueData {
				d := issue("10002", 8, ch(2, "10000", "3"), ch(8, "3", "10002"))
				d.Statuses = map[string]statusInfo{}
				for k, v := range testStatuses {
					d.Statuses[k] = v
				}
				d.Statuses["3"] = statusInfo{Name: "In Development", Category: categoryInProgress}
				return d
			}(),
			doneAt: at(8),
			want:   want{MeasureIssuesDone: 1, MeasureCycleTime: 6 * 3600, MeasureLeadTime: 8 * 3600, MeasureReopened: 0},
		},
		{
			name: "status without id matched by name",
			data: issue("10002", 8,
				statusChange{At: at(2), FromName: "To Do", ToName: "In Progress"},
				statusChange{At: at(8), FromName: "In Progress", ToName: "Done"}),
			doneAt: at(8),
			want:   want{MeasureIssuesDone: 1, MeasureCycleTime: 6 * 3600, MeasureLeadTime: 8 * 3600, MeasureReopened: 0},
		},
		{
			name: "due date met at the day's end (site zone)",
			data: func() issueData {
				// due 2025-03-10 in Berlin ends 2025-03-10T23:00Z
				d := issue("10002", 0, ch(1, "10000", "10002"))
				d.Resolved = time.Date(2025, 3, 10, 22, 59, 59, 999e6, time.UTC)
				d.Due, d.Zone = "2025-03-10", "Europe/Berlin"
				return d
			}(),
			doneAt: time.Date(2025, 3, 10, 22, 59, 59, 999e6, time.UTC),
			want:   want{MeasureIssuesDone: 1, MeasureLeadTime: 9*24*3600 + 13*3600 + 59*60 + 59.999, MeasureDoneOnTime: 1, MeasureReopened: 0},
		},
		{
			name: "due date missed by the first instant of the next day",
			data: func() issueData {
				d := issue("10002", 0, ch(1, "10000", "10002"))
				d.Resolved = time.Date(2025, 3, 10, 23, 0, 0, 0, time.UTC)
				d.Due, d.Zone = "2025-03-10", "Europe/Berlin"
				return d
			}(),
			doneAt: time.Date(2025, 3, 10, 23, 0, 0, 0, time.UTC),
			want:   want{MeasureIssuesDone: 1, MeasureLeadTime: 9*24*3600 + 14*3600, MeasureDoneOnTime: 0, MeasureReopened: 0},
		},
		{
			name: "due date in utc without a zone",
			data: func() issueData {
				d := issue("10002", 0, ch(1, "10000", "10002"))
				d.Resolved = time.Date(2025, 3, 10, 23, 30, 0, 0, time.UTC)
				d.Due = "2025-03-10"
				return d
			}(),
			doneAt: time.Date(2025, 3, 10, 23, 30, 0, 0, time.UTC),
			want:   want{MeasureIssuesDone: 1, MeasureLeadTime: 9*24*3600 + 14*3600 + 30*60, MeasureDoneOnTime: 1, MeasureReopened: 0},
		},
		{
			name: "the timezone option wins over the record's zone",
			cfg:  Config{Timezone: "Europe/Berlin"},
			data: func() issueData {
				d := issue("10002", 0, ch(1, "10000", "10002"))
				d.Resolved = time.Date(2025, 3, 10, 23, 30, 0, 0, time.UTC)
				d.Due, d.Zone = "2025-03-10", "UTC"
				return d
			}(),
			doneAt: time.Date(2025, 3, 10, 23, 30, 0, 0, time.UTC),
			want:   want{MeasureIssuesDone: 1, MeasureLeadTime: 9*24*3600 + 14*3600 + 30*60, MeasureDoneOnTime: 0, MeasureReopened: 0},
		},
		{
			name: "points",
			cfg:  Config{PointsField: "Story Points"},
			data: func() issueData {
				d := issue("10002", 10, ch(10, "10000", "10002"))
				d.Points = pts(5)
				return d
			}(),
			doneAt: at(10),
			want:   want{MeasureIssuesDone: 5, MeasureLeadTime: 10 * 3600, MeasureReopened: 0},
		},
		{
			// SPEC §4.1: points, 1 if no points field
			name:   "points missing weigh 1",
			cfg:    Config{PointsField: "Story Points"},
			data:   issue("10002", 10, ch(10, "10000", "10002")),
			doneAt: at(10),
			want:   want{MeasureIssuesDone: 1, MeasureLeadTime: 10 * 3600, MeasureReopened: 0},
		},
		{
			name: "points ignored without a points field",
			data: func() issueData {
				d := issue("10002", 10, ch(10, "10000", "10002"))
				d.Points = pts(8)
				return d
			}(),
			doneAt: at(10),
			want:   want{MeasureIssuesDone: 1, MeasureLeadTime: 10 * 3600, MeasureReopened: 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := newRules(&tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.normalize(record(t, KindIssue, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			m := byMeasure(t, got)
			if len(m) != len(tt.want) {
				t.Errorf("got %d samples %v, want %d (%v)", len(m), keys(m), len(tt.want), tt.want)
			}
			for measure, v := range tt.want {
				s, ok := m[measure]
				if !ok {
					t.Errorf("no %s sample", measure)
					continue
				}
				if math.Abs(s.Value-v) > 1e-6 {
					t.Errorf("%s = %v, want %v", measure, s.Value, v)
				}
				if !s.Time.Equal(tt.doneAt) {
					t.Errorf("%s at %v, want %v", measure, s.Time, tt.doneAt)
				}
				if s.Actor != "acc-1" || s.TeamKey != "ENG" || s.Labels["project"] != "ENG" || s.Labels["issue_type"] != "Story" || len(s.Labels) != 2 || s.Connector != "" {
					t.Errorf("%s attribution = actor %q team %q labels %v connector %q", measure, s.Actor, s.TeamKey, s.Labels, s.Connector)
				}
			}
		})
	}
}

func keys(m map[string]pipeline.Sample) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestNormalizeUnassignedHasNoActor(t *testing.T) {
	d := issue("10002", 10, ch(10, "10000", "10002"))
	d.Assignee = ""
	r, _ := newRules(&Config{})
	got, err := r.normalize(record(t, KindIssue, d))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range got {
		if s.Actor != "" || s.TeamKey != "ENG" {
			t.Errorf("%s: actor %q team %q", s.Measure, s.Actor, s.TeamKey)
		}
	}
}

func TestNormalizeOpenIssue(t *testing.T) {
	listed := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	open := func(id, name, cat string) openIssueData {
		return openIssueData{Key: "OPS-3", Project: "OPS", Type: "Bug", Assignee: "acc-9", Status: statusRef{ID: id, Name: name, Category: cat}, Listed: listed}
	}
	tests := []struct {
		name string
		cfg  Config
		data openIssueData
		want bool
	}{
		{"in progress by category", Config{}, open("3", "In Progress", categoryInProgress), true},
		{"to do by category", Config{}, open("10000", "To Do", categoryNew), false},
		{"configured status", Config{InProgressStatuses: []string{"Doing"}}, open("10004", "Doing", categoryNew), true},
		{"category ignored when statuses are configured", Config{InProgressStatuses: []string{"Doing"}}, open("3", "In Progress", categoryInProgress), false},
		{"no id: category", Config{}, open("", "Working", categoryInProgress), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := newRules(&tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.normalize(record(t, KindOpenIssue, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want {
				if len(got) != 0 {
					t.Fatalf("got %v, want no sample", got)
				}
				return
			}
			want := pipeline.Sample{Measure: MeasureWIP, Time: listed, Value: 1, Actor: "acc-9", TeamKey: "OPS", Labels: map[string]string{"project": "OPS", "issue_type": "Bug"}}
			if len(got) != 1 || got[0].Measure != want.Measure || !got[0].Time.Equal(want.Time) || got[0].Value != 1 ||
				got[0].Actor != want.Actor || got[0].TeamKey != want.TeamKey || len(got[0].Labels) != 2 || got[0].Labels["issue_type"] != "Bug" {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestNormalizeErrors(t *testing.T) {
	r, _ := newRules(&Config{})
	tests := []connectors.Record{
		{Kind: KindIssue, ID: "1", Data: []byte(`{"created": 12}`)},
		{Kind: KindOpenIssue, ID: "1", Data: []byte(`not json`)},
		{Kind: "pull", ID: "1", Data: []byte(`{}`)},
	}
	for _, rec := range tests {
		if _, err := r.normalize(rec); err == nil {
			t.Errorf("%s %s: no error", rec.Kind, rec.Data)
		}
	}
}

func TestNormalizeIsDeterministic(t *testing.T) {
	c := &Connector{}
	c.rules, _ = newRules(&Config{})
	rec := record(t, KindIssue, issue("10002", 30, ch(4, "10000", "3"), ch(30, "3", "10002")))
	a, err := c.Normalize(rec)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Normalize(rec)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) || len(a) == 0 {
		t.Fatalf("two normalisations differ or are empty:\n%s\n%s", ja, jb)
	}
}
