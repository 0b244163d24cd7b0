package zendesk

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/pipeline"
)

var (
	created = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	solved  = time.Date(2026, 3, 3, 15, 30, 0, 0, time.UTC)
	updated = time.Date(2026, 3, 4, 8, 0, 0, 0, time.UTC)
)

// record builds a ticket record the way the export does, from the upstream
// JSON of a ticket and of its side-loaded metric set ("" for none).
func record(t *testing.T, ticket, metricSet string) connectors.Record {
	t.Helper()
	var tk apiTicket
	if err := json.Unmarshal([]byte(ticket), &tk); err != nil {
		t.Fatalf("decode ticket: %v", err)
	}
	var ms *apiMetricSet
	if metricSet != "" {
		ms = &apiMetricSet{}
		if err := json.Unmarshal([]byte(metricSet), ms); err != nil {
			t.Fatalf("decode metric set: %v", err)
		}
	}
	return ticketToRecord(tk, ms)
}

func ticketJSON(fields string) string {
	base := `"id": 35436, "created_at": "2026-03-02T09:00:00Z", "updated_at": "2026-03-04T08:00:00Z", "generated_timestamp": 1772611200`
	if fields != "" {
		base += ", " + fields
	}
	return "{" + base + "}"
}

const (
	attrs       = `"assignee_id": 360012345601, "group_id": 360001, "priority": "high"`
	solvedSet   = `{"ticket_id": 35436, "solved_at": "2026-03-03T15:30:00Z", "reopens": 0, "reply_time_in_minutes": {"calendar": 30, "business": 20}, "full_resolution_time_in_minutes": {"calendar": 1830, "business": 450}}`
	reopenedSet = `{"ticket_id": 35436, "solved_at": "2026-03-03T15:30:00Z", "reopens": 2, "reply_time_in_minutes": {"calendar": 30, "business": 20}, "full_resolution_time_in_minutes": {"calendar": 1830, "business": 450}}`
	unsolvedSet = `{"ticket_id": 35436, "solved_at": null, "reopens": 0, "reply_time_in_minutes": {"calendar": 30, "business": 20}, "full_resolution_time_in_minutes": {"calendar": null, "business": null}}`
	noReplySet  = `{"ticket_id": 35436, "solved_at": null, "reopens": 0, "reply_time_in_minutes": {"calendar": null, "business": null}, "full_resolution_time_in_minutes": {"calendar": null, "business": null}}`
)

func sample(measure string, at time.Time, v float64) pipeline.Sample {
	return pipeline.Sample{
		Measure: measure, Time: at, Value: v,
		Actor: "360012345601", TeamKey: "360001",
		Labels: map[string]string{"priority": "high", "group": "360001"},
	}
}

func TestNormalizeTicket(t *testing.T) {
	weights := map[string]float64{"urgent": 3, "high": 2, "normal": 1, "low": 0.5}
	replyAt := created.Add(30 * time.Minute)
	tests := []struct {
		name     string
		business bool
		ticket   string
		metrics  string
		want     []pipeline.Sample
	}{
		{
			name:    "solved ticket, calendar minutes",
			ticket:  ticketJSON(attrs + `, "status": "solved", "satisfaction_rating": {"score": "good"}`),
			metrics: solvedSet,
			want: []pipeline.Sample{
				sample(MeasureTicketsSolved, solved, 2),
				sample(MeasureFullResolutionTime, solved, 1830*60),
				sample(MeasureTicketReopened, solved, 0),
				sample(MeasureFirstReplyTime, replyAt, 30*60),
				sample(MeasureCSAT, solved, 1),
			},
		},
		{
			name:     "solved ticket, business minutes; the reply still counts at the calendar reply time",
			business: true,
			ticket:   ticketJSON(attrs + `, "status": "solved", "satisfaction_rating": {"score": "bad"}`),
			metrics:  solvedSet,
			want: []pipeline.Sample{
				sample(MeasureTicketsSolved, solved, 2),
				sample(MeasureFullResolutionTime, solved, 450*60),
				sample(MeasureTicketReopened, solved, 0),
				sample(MeasureFirstReplyTime, replyAt, 20*60),
				sample(MeasureCSAT, solved, 0),
			},
		},
		{
			name:    "closed ticket counts as solved",
			ticket:  ticketJSON(attrs + `, "status": "closed", "satisfaction_rating": {"score": "unoffered"}`),
			metrics: solvedSet,
			want: []pipeline.Sample{
				sample(MeasureTicketsSolved, solved, 2),
				sample(MeasureFullResolutionTime, solved, 1830*60),
				sample(MeasureTicketReopened, solved, 0),
				sample(MeasureFirstReplyTime, replyAt, 30*60),
			},
		},
		{
			name:    "unsolved ticket: first reply only",
			ticket:  ticketJSON(attrs + `, "status": "pending", "satisfaction_rating": {"score": "unoffered"}`),
			metrics: unsolvedSet,
			want:    []pipeline.Sample{sample(MeasureFirstReplyTime, replyAt, 30*60)},
		},
		{
			name:    "no reply yet: nothing",
			ticket:  ticketJSON(attrs + `, "status": "new"`),
			metrics: noReplySet,
		},
		{
			name:    "offered CSAT is not a rating",
			ticket:  ticketJSON(attrs + `, "status": "solved", "satisfaction_rating": {"score": "offered"}`),
			metrics: solvedSet,
			want: []pipeline.Sample{
				sample(MeasureTicketsSolved, solved, 2),
				sample(MeasureFullResolutionTime, solved, 1830*60),
				sample(MeasureTicketReopened, solved, 0),
				sample(MeasureFirstReplyTime, replyAt, 30*60),
			},
		},
		{
			name:    "rating on a ticket without solved_at counts at updated_at",
			ticket:  ticketJSON(attrs + `, "status": "open", "satisfaction_rating": {"id": 5, "score": "good", "comment": "thanks"}`),
			metrics: unsolvedSet,
			want: []pipeline.Sample{
				sample(MeasureFirstReplyTime, replyAt, 30*60),
				sample(MeasureCSAT, updated, 1),
			},
		},
		{
			// SPEC §4.1: one sample per "ticket with metric_set.solved_at".
			name:    "reopened and open again: solved_at kept by Zendesk, counts at its last solve",
			ticket:  ticketJSON(attrs + `, "status": "open", "satisfaction_rating": {"score": "unoffered"}`),
			metrics: reopenedSet,
			want: []pipeline.Sample{
				sample(MeasureTicketsSolved, solved, 2),
				sample(MeasureFullResolutionTime, solved, 1830*60),
				sample(MeasureTicketReopened, solved, 1),
				sample(MeasureFirstReplyTime, replyAt, 30*60),
			},
		},
		{
			name:    "any status with a solved_at counts as solved",
			ticket:  ticketJSON(attrs + `, "status": "pending"`),
			metrics: solvedSet,
			want: []pipeline.Sample{
				sample(MeasureTicketsSolved, solved, 2),
				sample(MeasureFullResolutionTime, solved, 1830*60),
				sample(MeasureTicketReopened, solved, 0),
				sample(MeasureFirstReplyTime, replyAt, 30*60),
			},
		},
		{
			name:    "reopened and solved again",
			ticket:  ticketJSON(attrs + `, "status": "solved"`),
			metrics: reopenedSet,
			want: []pipeline.Sample{
				sample(MeasureTicketsSolved, solved, 2),
				sample(MeasureFullResolutionTime, solved, 1830*60),
				sample(MeasureTicketReopened, solved, 1),
				sample(MeasureFirstReplyTime, replyAt, 30*60),
			},
		},
		{
			name:    "status deleted without the record flag: nothing",
			ticket:  ticketJSON(attrs + `, "status": "deleted", "satisfaction_rating": {"score": "good"}`),
			metrics: solvedSet,
		},
		{
			name:   "solved without a metric set: nothing",
			ticket: ticketJSON(attrs + `, "status": "solved", "satisfaction_rating": {"score": "good"}`),
			want:   []pipeline.Sample{sample(MeasureCSAT, updated, 1)},
		},
		{
			name:     "business hours without a business value: no reply or resolution sample",
			business: true,
			ticket:   ticketJSON(attrs + `, "status": "solved"`),
			metrics:  `{"ticket_id": 35436, "solved_at": "2026-03-03T15:30:00Z", "reopens": 0, "reply_time_in_minutes": {"calendar": 30, "business": null}, "full_resolution_time_in_minutes": {"calendar": 1830, "business": null}}`,
			want: []pipeline.Sample{
				sample(MeasureTicketsSolved, solved, 2),
				sample(MeasureTicketReopened, solved, 0),
			},
		},
		{
			name:    "no assignee, group or priority: no actor, team key or labels; weight 1",
			ticket:  ticketJSON(`"assignee_id": null, "group_id": null, "priority": null, "status": "solved"`),
			metrics: solvedSet,
			want: []pipeline.Sample{
				{Measure: MeasureTicketsSolved, Time: solved, Value: 1},
				{Measure: MeasureFullResolutionTime, Time: solved, Value: 1830 * 60},
				{Measure: MeasureTicketReopened, Time: solved, Value: 0},
				{Measure: MeasureFirstReplyTime, Time: replyAt, Value: 30 * 60},
			},
		},
		{
			name:    "ids as strings decode",
			ticket:  ticketJSON(`"assignee_id": "360012345601", "group_id": "360001", "priority": "high", "status": "solved"`),
			metrics: solvedSet,
			want: []pipeline.Sample{
				sample(MeasureTicketsSolved, solved, 2),
				sample(MeasureFullResolutionTime, solved, 1830*60),
				sample(MeasureTicketReopened, solved, 0),
				sample(MeasureFirstReplyTime, replyAt, 30*60),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.BusinessHours = tt.business
			cfg.PriorityWeights = weights
			got, err := normalize(cfg, record(t, tt.ticket, tt.metrics))
			if err != nil {
				t.Fatal(err)
			}
			assertSamples(t, got, tt.want)
		})
	}
}

func TestNormalizePriorityWeights(t *testing.T) {
	tests := []struct {
		priority string
		weights  map[string]float64
		want     float64
	}{
		{`"urgent"`, map[string]float64{"urgent": 3, "high": 2, "normal": 1, "low": 1}, 3},
		{`"high"`, map[string]float64{"urgent": 3, "high": 2, "normal": 1, "low": 1}, 2},
		{`"normal"`, map[string]float64{"urgent": 3, "high": 2, "normal": 1, "low": 1}, 1},
		{`"low"`, map[string]float64{"urgent": 3, "high": 2, "normal": 1, "low": 0}, 0},
		{`null`, map[string]float64{"urgent": 3, "high": 2, "normal": 5, "low": 5}, 1},
		{`"urgent"`, DefaultConfig().PriorityWeights, 1},
		{`"urgent"`, map[string]float64{"high": 2}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.priority, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.PriorityWeights = tt.weights
			rec := record(t, ticketJSON(`"status": "solved", "priority": `+tt.priority), solvedSet)
			got, err := normalize(cfg, rec)
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, s := range got {
				if s.Measure == MeasureTicketsSolved {
					found = true
					if s.Value != tt.want {
						t.Errorf("weight = %v, want %v", s.Value, tt.want)
					}
				}
			}
			if !found {
				t.Errorf("no %s sample in %v", MeasureTicketsSolved, got)
			}
		})
	}
}

func TestNormalizeRecords(t *testing.T) {
	listed := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	open, _ := json.Marshal(openTicketRecord{ID: 7, Status: "hold", Priority: "urgent", AssigneeID: 360012345602, GroupID: 360002, ListedAt: listed})
	bare, _ := json.Marshal(openTicketRecord{ID: 8, Status: "new", ListedAt: listed})
	tests := []struct {
		name    string
		rec     connectors.Record
		want    []pipeline.Sample
		wantErr string
	}{
		{
			name: "open ticket: one backlog sample at the listing time",
			rec:  connectors.Record{Kind: KindOpenTicket, ID: "7", Updated: listed, Data: open},
			want: []pipeline.Sample{{
				Measure: MeasureBacklog, Time: listed, Value: 1, Actor: "360012345602", TeamKey: "360002",
				Labels: map[string]string{"priority": "urgent", "group": "360002"},
			}},
		},
		{
			name: "open ticket without assignee or group",
			rec:  connectors.Record{Kind: KindOpenTicket, ID: "8", Updated: listed, Data: bare},
			want: []pipeline.Sample{{Measure: MeasureBacklog, Time: listed, Value: 1}},
		},
		{
			name: "deleted ticket: no samples",
			rec:  record(t, ticketJSON(attrs+`, "status": "deleted"`), ""),
		},
		{
			name: "deleted flag wins over data",
			rec:  connectors.Record{Kind: KindTicket, ID: "1", Deleted: true, Data: []byte("not json")},
		},
		{
			name:    "unknown kind",
			rec:     connectors.Record{Kind: "pull", ID: "1", Data: []byte("{}")},
			wantErr: "unknown kind",
		},
		{
			name:    "corrupt data",
			rec:     connectors.Record{Kind: KindTicket, ID: "1", Data: []byte("{")},
			wantErr: "decode zendesk ticket record 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := normalize(DefaultConfig(), tt.rec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertSamples(t, got, tt.want)
		})
	}
}

func TestTicketRecordKeepsOnlyDerivedFields(t *testing.T) {
	rec := record(t, ticketJSON(attrs+`, "status": "solved", "subject": "Printer on fire", "description": "secret text", "requester_id": 99, "satisfaction_rating": {"score": "good", "comment": "private words"}`), solvedSet)
	for _, banned := range []string{"Printer", "secret", "private", "requester", "99"} {
		if strings.Contains(string(rec.Data), banned) {
			t.Errorf("record data %s keeps %q", rec.Data, banned)
		}
	}
	if rec.Kind != KindTicket || rec.ID != "35436" || !rec.Updated.Equal(updated) || rec.Deleted {
		t.Errorf("record = %+v", rec)
	}
	del := record(t, ticketJSON(`"status": "deleted"`), "")
	if !del.Deleted {
		t.Error("status deleted did not set Record.Deleted")
	}
}

func assertSamples(t *testing.T, got, want []pipeline.Sample) {
	t.Helper()
	key := func(s pipeline.Sample) string { return s.Measure + s.Time.String() }
	sort.Slice(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
	sort.Slice(want, func(i, j int) bool { return key(want[i]) < key(want[j]) })
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("samples:\n got %+v\nwant %+v", got, want)
	}
}
