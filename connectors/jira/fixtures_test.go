package jira

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"
)

// The recorded issues (testdata/README.md) come from a Jira Cloud site
// whose status list was not recorded; these are the site's statuses as the
// changelogs name them, with Jira's built-in ids and categories. Status 3
// was renamed from "In Progress" to "In Development" during the recording.
var eeStatuses = []apiStatus{
	status("1", "Open", "new"),
	status("3", "In Development", "indeterminate"),
	status("5", "Resolved", "done"),
	status("6", "Closed", "done"),
	status("10000", "To Do", "new"),
	status("10020", "Inbox", "new"),
	status("10029", "Ready for Dev", "new"),
	status("10033", "To Do", "new"),
	status("10068", "已完成", "done"),
}

func status(id, name, cat string) apiStatus {
	s := apiStatus{ID: id, Name: name}
	s.StatusCategory.Key = cat
	return s
}

type eeExpected struct {
	IssueKey        string `json:"issue_key"`
	LeadTimeMinutes string `json:"lead_time_minutes"`
	StatusKey       string `json:"status_key"`
	ChangelogTotal  string `json:"changelog_total"`
}

func loadEE(t *testing.T) ([]apiIssue, map[string]eeExpected) {
	t.Helper()
	b, err := os.ReadFile("testdata/ee_issues_with_changelog.json")
	if err != nil {
		t.Fatal(err)
	}
	var issues []apiIssue
	if err := json.Unmarshal(b, &issues); err != nil {
		t.Fatal(err)
	}
	b, err = os.ReadFile("testdata/ee_expected_issues.json")
	if err != nil {
		t.Fatal(err)
	}
	var exp []eeExpected
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	want := map[string]eeExpected{}
	for _, e := range exp {
		want[e.IssueKey] = e
	}
	if len(issues) != 30 || len(want) != 30 {
		t.Fatalf("%d issues, %d expectations", len(issues), len(want))
	}
	return issues, want
}

// eeCycleTimes are the cycle times (seconds) of the recorded done issues
// that passed an in-progress status: resolutiondate − first entry into
// status 3, read off their changelogs. The other done issues never were in
// progress.
var eeCycleTimes = map[string]float64{
	"EE-17": 3066.935,
	"EE-19": 542864.308,
	"EE-23": 286817.657,
	"EE-25": 507296.211,
	"EE-26": 289344.254,
	"EE-27": 625571.355,
	"EE-31": 629138.998,
}

func TestRecordedIssues(t *testing.T) {
	issues, want := loadEE(t)
	bc := buildContext{flavor: FlavorCloud, statuses: newCatalog(eeStatuses), pointsField: "customfield_10024"}
	for _, cfg := range []struct {
		name string
		cfg  Config
	}{
		{"status categories", Config{}},
		// status 3 is configured by its current name; histories recorded
		// before the rename still say "In Progress": matched by id
		{"configured in-progress status", Config{InProgressStatuses: []string{"In Development"}}},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			r, err := newRules(&cfg.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, iss := range issues {
				exp := want[iss.Key]
				if truncated(iss) {
					t.Fatalf("%s: recorded changelog is truncated", iss.Key)
				}
				if n, _ := strconv.Atoi(exp.ChangelogTotal); n != len(iss.Changelog.Histories) {
					t.Errorf("%s: %d histories, expected file says %d", iss.Key, len(iss.Changelog.Histories), n)
				}
				rec, err := buildIssue(iss, iss.Changelog.Histories, bc)
				if err != nil {
					t.Fatalf("%s: %v", iss.Key, err)
				}
				d := decodeRecord(t, rec.Data)
				lead, ok := leadTime(d)
				if !ok {
					t.Fatalf("%s: no lead time", iss.Key)
				}
				wantMin, _ := strconv.ParseFloat(exp.LeadTimeMinutes, 64)
				if got := math.Floor(lead.Seconds() / 60); got != wantMin {
					t.Errorf("%s: lead time %v = %v minutes, want %v", iss.Key, lead, got, wantMin)
				}
				samples, err := r.normalize(rec)
				if err != nil {
					t.Fatal(err)
				}
				m := byMeasure(t, samples)
				if exp.StatusKey != "done" {
					if len(samples) != 0 {
						t.Errorf("%s (status category %s): %d samples, want none", iss.Key, exp.StatusKey, len(samples))
					}
					continue
				}
				if s, ok := m[MeasureLeadTime]; !ok || math.Abs(s.Value-lead.Seconds()) > 1e-6 || !s.Time.Equal(d.Resolved) {
					t.Errorf("%s: lead time sample %+v, want %v at %v", iss.Key, s, lead.Seconds(), d.Resolved)
				}
				cyc, want := m[MeasureCycleTime], eeCycleTimes[iss.Key]
				switch _, passed := eeCycleTimes[iss.Key]; {
				case passed && math.Abs(cyc.Value-want) > 1e-3:
					t.Errorf("%s: cycle time %v, want %v", iss.Key, cyc.Value, want)
				case !passed && cyc.Measure != "":
					t.Errorf("%s: cycle time %v, want none (never in progress)", iss.Key, cyc.Value)
				}
				if s := m[MeasureIssuesDone]; s.Value != 1 && iss.Key != "EE-2" {
					// points field not configured: weight 1
					t.Errorf("%s: issues done %v", iss.Key, s.Value)
				}
				if s := m[MeasureIssuesDone]; s.Actor == "" || s.TeamKey != "EE" || s.Labels["issue_type"] == "" {
					t.Errorf("%s: attribution %+v", iss.Key, s)
				}
				if _, ok := m[MeasureReopened]; !ok {
					t.Errorf("%s: no reopened sample", iss.Key)
				}
				if _, ok := m[MeasureDoneOnTime]; ok {
					t.Errorf("%s: done on time without a due date", iss.Key)
				}
			}
		})
	}
}

func TestRecordedIssuesPoints(t *testing.T) {
	issues, _ := loadEE(t)
	bc := buildContext{flavor: FlavorCloud, statuses: newCatalog(eeStatuses), pointsField: "customfield_10024"}
	r, _ := newRules(&Config{PointsField: "customfield_10024"})
	got := map[string]float64{}
	for _, iss := range issues {
		rec, err := buildIssue(iss, iss.Changelog.Histories, bc)
		if err != nil {
			t.Fatal(err)
		}
		ss, _ := r.normalize(rec)
		for _, s := range ss {
			if s.Measure == MeasureIssuesDone {
				got[iss.Key] = s.Value
			}
		}
	}
	// EE-2 has 2.0 points; EE-1 has "-1" (not done anyway); the others
	// none, and weigh 1 (SPEC §4.1: points, 1 if no points field)
	if got["EE-2"] != 2 || got["EE-3"] != 1 || len(got) != 25 {
		t.Errorf("points = %v", got)
	}
}
