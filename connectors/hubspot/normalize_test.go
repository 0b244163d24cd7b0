package hubspot

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
	t0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	t1 = t0.Add(48 * time.Hour)
	t2 = t0.Add(20 * 24 * time.Hour)
)

func ptr(f float64) *float64 { return &f }

func normConnector(attribution string, excluded ...string) *Connector {
	ex := map[string]bool{}
	for _, o := range excluded {
		ex[o] = true
	}
	return &Connector{attribution: attribution, excluded: ex}
}

func record(t *testing.T, kind, id string, data any) connectors.Record {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return connectors.Record{Kind: kind, ID: id, Updated: t2, Data: b}
}

func dealSample(measure string, at time.Time, v float64) pipeline.Sample {
	return pipeline.Sample{Measure: measure, Time: at, Value: v, Actor: "7788993", TeamKey: "42", Labels: map[string]string{"pipeline": "default"}}
}

func sortSamples(s []pipeline.Sample) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Measure != s[j].Measure {
			return s[i].Measure < s[j].Measure
		}
		return s[i].Time.Before(s[j].Time)
	})
}

func TestNormalizeDeals(t *testing.T) {
	base := func(mod func(*dealData)) dealData {
		d := dealData{Owner: "7788993", Team: "42", Pipeline: "default", Stage: "closedwon",
			Amount: ptr(1100), Created: t0, Closed: t2, IsClosed: true, IsWon: true}
		mod(&d)
		return d
	}
	cycle := t2.Sub(t0).Seconds()
	tests := []struct {
		name string
		deal dealData
		want []pipeline.Sample
	}{
		{
			name: "won deal",
			deal: base(func(*dealData) {}),
			want: []pipeline.Sample{
				dealSample(MeasurePipelineCreatedAmount, t0, 1100),
				dealSample(MeasureDealWon, t2, 1),
				dealSample(MeasureDealsWon, t2, 1),
				dealSample(MeasureDealsWonAmount, t2, 1100),
				dealSample(MeasureSalesCycleSeconds, t2, cycle),
			},
		},
		{
			name: "lost deal",
			deal: base(func(d *dealData) { d.IsWon, d.Stage = false, "closedlost" }),
			want: []pipeline.Sample{
				dealSample(MeasurePipelineCreatedAmount, t0, 1100),
				dealSample(MeasureDealWon, t2, 0),
			},
		},
		{
			name: "open deal",
			deal: base(func(d *dealData) { d.IsWon, d.IsClosed, d.Stage = false, false, "contractsent" }),
			want: []pipeline.Sample{dealSample(MeasurePipelineCreatedAmount, t0, 1100)},
		},
		{
			name: "open deal with empty amount counts 0 created",
			deal: base(func(d *dealData) { d.IsWon, d.IsClosed, d.Amount = false, false, nil }),
			want: []pipeline.Sample{dealSample(MeasurePipelineCreatedAmount, t0, 0)},
		},
		{
			// SPEC §4.1: one hubspot_deals_won_amount sample per won deal;
			// an empty amount counts 0, as for the pipeline created.
			name: "won deal with empty amount wins 0",
			deal: base(func(d *dealData) { d.Amount = nil }),
			want: []pipeline.Sample{
				dealSample(MeasurePipelineCreatedAmount, t0, 0),
				dealSample(MeasureDealWon, t2, 1),
				dealSample(MeasureDealsWon, t2, 1),
				dealSample(MeasureDealsWonAmount, t2, 0),
				dealSample(MeasureSalesCycleSeconds, t2, cycle),
			},
		},
		{
			name: "amount that did not parse is not zero-filled",
			deal: base(func(d *dealData) { d.Amount, d.Invalid = nil, []string{"amount"} }),
			want: []pipeline.Sample{
				dealSample(MeasureDealWon, t2, 1),
				dealSample(MeasureDealsWon, t2, 1),
				dealSample(MeasureSalesCycleSeconds, t2, cycle),
			},
		},
		{
			name: "broken home-currency amount is not replaced by the raw amount",
			deal: base(func(d *dealData) { d.Amount, d.Invalid = nil, []string{"amount_in_home_currency"} }),
			want: []pipeline.Sample{
				dealSample(MeasureDealWon, t2, 1),
				dealSample(MeasureDealsWon, t2, 1),
				dealSample(MeasureSalesCycleSeconds, t2, cycle),
			},
		},
		{
			name: "won deal without close date has no close samples",
			deal: base(func(d *dealData) { d.Closed = time.Time{} }),
			want: []pipeline.Sample{dealSample(MeasurePipelineCreatedAmount, t0, 1100)},
		},
		{
			// SPEC §4.1: one sample per won deal, closedate − createdate,
			// with no exception for a negative value (a deal imported
			// after it closed): the KPI shows what HubSpot holds.
			name: "won deal closed before it was created has a negative sales cycle",
			deal: base(func(d *dealData) { d.Closed = t0.Add(-72 * time.Hour) }),
			want: []pipeline.Sample{
				dealSample(MeasurePipelineCreatedAmount, t0, 1100),
				dealSample(MeasureDealWon, t0.Add(-72*time.Hour), 1),
				dealSample(MeasureDealsWon, t0.Add(-72*time.Hour), 1),
				dealSample(MeasureDealsWonAmount, t0.Add(-72*time.Hour), 1100),
				dealSample(MeasureSalesCycleSeconds, t0.Add(-72*time.Hour), (-72 * time.Hour).Seconds()),
			},
		},
		{
			name: "closed flags that did not parse give no close samples",
			deal: base(func(d *dealData) { d.Invalid = []string{"hs_is_closed_won"} }),
			want: []pipeline.Sample{dealSample(MeasurePipelineCreatedAmount, t0, 1100)},
		},
		{
			name: "deal without create date has no pipeline sample",
			deal: base(func(d *dealData) { d.Created = time.Time{} }),
			want: []pipeline.Sample{
				dealSample(MeasureDealWon, t2, 1),
				dealSample(MeasureDealsWon, t2, 1),
				dealSample(MeasureDealsWonAmount, t2, 1100),
			},
		},
	}
	c := normConnector(AttributionOwner, OutcomeCanceled, OutcomeNoShow)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Normalize(record(t, KindDeal, "501", tt.deal))
			if err != nil {
				t.Fatal(err)
			}
			sortSamples(got)
			sortSamples(tt.want)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("samples:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestNormalizeDealWithoutPipelineHasNoLabel(t *testing.T) {
	c := normConnector(AttributionOwner)
	got, err := c.Normalize(record(t, KindDeal, "1", dealData{Owner: "1", Created: t0}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Labels != nil || got[0].TeamKey != "" || got[0].Actor != "1" {
		t.Fatalf("got %+v, want one unlabelled sample of actor 1 without team", got)
	}
}

func TestNormalizeMeetings(t *testing.T) {
	const sdr, sdrTeam, ae, aeTeam = "7788991", "42", "7788993", "43"
	start := t1
	base := func(outcome string, mod ...func(*meetingData)) meetingData {
		m := meetingData{Owner: ae, OwnerTeam: aeTeam, CreatorUser: "9001", Creator: sdr, CreatorTeam: sdrTeam,
			Outcome: outcome, Created: t0, Start: start, Timestamp: start}
		for _, f := range mod {
			f(&m)
		}
		return m
	}
	s := func(measure string, at time.Time, v float64) pipeline.Sample {
		return pipeline.Sample{Measure: measure, Time: at, Value: v, Actor: ae, TeamKey: aeTeam}
	}
	byCreator := func(x pipeline.Sample) pipeline.Sample { x.Actor, x.TeamKey = sdr, sdrTeam; return x }
	tests := []struct {
		name        string
		attribution string
		excluded    []string
		meeting     meetingData
		want        []pipeline.Sample
	}{
		{
			name: "completed", meeting: base(OutcomeCompleted),
			want: []pipeline.Sample{s(MeasureMeetingsBooked, t0, 1), s(MeasureMeetingsHeld, start, 1), s(MeasureMeetingShow, start, 1)},
		},
		{
			name: "no show is excluded from booked and shows 0", meeting: base(OutcomeNoShow),
			want: []pipeline.Sample{s(MeasureMeetingShow, start, 0)},
		},
		{name: "canceled gives nothing", meeting: base(OutcomeCanceled), want: nil},
		{name: "rescheduled is booked", meeting: base(OutcomeRescheduled), want: []pipeline.Sample{s(MeasureMeetingsBooked, t0, 1)}},
		{name: "scheduled is booked", meeting: base(OutcomeScheduled), want: []pipeline.Sample{s(MeasureMeetingsBooked, t0, 1)}},
		{name: "no outcome is booked", meeting: base(""), want: []pipeline.Sample{s(MeasureMeetingsBooked, t0, 1)}},
		{
			name: "lower-case outcome", meeting: base("completed"),
			want: []pipeline.Sample{s(MeasureMeetingsBooked, t0, 1), s(MeasureMeetingsHeld, start, 1), s(MeasureMeetingShow, start, 1)},
		},
		{
			name: "missing start time falls back to hs_timestamp",
			meeting: base(OutcomeCompleted, func(m *meetingData) {
				m.Start, m.Timestamp = time.Time{}, start.Add(time.Hour)
			}),
			want: []pipeline.Sample{s(MeasureMeetingsBooked, t0, 1), s(MeasureMeetingsHeld, start.Add(time.Hour), 1), s(MeasureMeetingShow, start.Add(time.Hour), 1)},
		},
		{
			name:    "neither start time nor timestamp: booked only",
			meeting: base(OutcomeCompleted, func(m *meetingData) { m.Start, m.Timestamp = time.Time{}, time.Time{} }),
			want:    []pipeline.Sample{s(MeasureMeetingsBooked, t0, 1)},
		},
		{
			name: "start time that did not parse is not replaced",
			meeting: base(OutcomeCompleted, func(m *meetingData) {
				m.Start, m.Invalid = time.Time{}, []string{"hs_meeting_start_time"}
			}),
			want: []pipeline.Sample{s(MeasureMeetingsBooked, t0, 1)},
		},
		{
			name:    "no create date: not booked",
			meeting: base(OutcomeCompleted, func(m *meetingData) { m.Created = time.Time{} }),
			want:    []pipeline.Sample{s(MeasureMeetingsHeld, start, 1), s(MeasureMeetingShow, start, 1)},
		},
		{
			name: "creator attribution", attribution: AttributionCreator, meeting: base(OutcomeCompleted),
			want: []pipeline.Sample{byCreator(s(MeasureMeetingsBooked, t0, 1)), byCreator(s(MeasureMeetingsHeld, start, 1)), byCreator(s(MeasureMeetingShow, start, 1))},
		},
		{
			name: "creator attribution with an unknown creator", attribution: AttributionCreator,
			meeting: base(OutcomeScheduled, func(m *meetingData) { m.Creator, m.CreatorTeam = "", "" }),
			want:    []pipeline.Sample{{Measure: MeasureMeetingsBooked, Time: t0, Value: 1}},
		},
		{
			name: "no exclusions: a no-show is booked", excluded: []string{}, meeting: base(OutcomeNoShow),
			want: []pipeline.Sample{s(MeasureMeetingsBooked, t0, 1), s(MeasureMeetingShow, start, 0)},
		},
		{
			name: "custom exclusions", excluded: []string{OutcomeRescheduled}, meeting: base(OutcomeRescheduled),
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attr := tt.attribution
			if attr == "" {
				attr = AttributionOwner
			}
			excluded := tt.excluded
			if excluded == nil {
				excluded = []string{OutcomeCanceled, OutcomeNoShow}
			}
			c := normConnector(attr, excluded...)
			got, err := c.Normalize(record(t, KindMeeting, "301", tt.meeting))
			if err != nil {
				t.Fatal(err)
			}
			sortSamples(got)
			sortSamples(tt.want)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("samples:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestNormalizeRecordErrors(t *testing.T) {
	c := normConnector(AttributionOwner)
	tests := []struct {
		name    string
		rec     connectors.Record
		wantErr string
	}{
		{"unknown kind", connectors.Record{Kind: "ticket", ID: "1", Data: []byte(`{}`)}, "unknown kind"},
		{"deal data that does not decode", connectors.Record{Kind: KindDeal, ID: "2", Data: []byte(`{"amount":"x"}`)}, "decode hubspot deal record 2"},
		{"meeting data that does not decode", connectors.Record{Kind: KindMeeting, ID: "3", Data: []byte(`[`)}, "decode hubspot meeting record 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Normalize(tt.rec)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
	got, err := c.Normalize(connectors.Record{Kind: KindDeal, ID: "4", Deleted: true})
	if err != nil || got != nil {
		t.Fatalf("deleted record: got %v, %v; want no samples", got, err)
	}
}

func TestNormalizeIsDeterministic(t *testing.T) {
	c := normConnector(AttributionOwner, OutcomeCanceled)
	rec := record(t, KindDeal, "9", dealData{Owner: "1", Pipeline: "p", Amount: ptr(5), Created: t0, Closed: t2, IsClosed: true, IsWon: true})
	a, _ := c.Normalize(rec)
	b, _ := c.Normalize(rec)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same record gave different samples")
	}
}

// directory is a fixed owners look-up.
type directory struct{ teams, users map[string]string }

func (d directory) team(id string) string         { return d.teams[id] }
func (d directory) ownerOfUser(uid string) string { return d.users[uid] }

var testDir = directory{
	teams: map[string]string{"7788991": "42", "7788993": "42", "7788999": "57"},
	users: map[string]string{"9001": "7788991", "9003": "7788993"},
}

func mustProps(t *testing.T, s string) props {
	t.Helper()
	var p props
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildDeal(t *testing.T) {
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name  string
		props string
		want  dealData
	}{
		{
			name: "iso dates and home currency preferred",
			props: `{"hubspot_owner_id":"7788993","pipeline":"default","dealstage":"closedwon","amount":"1000",
				"amount_in_home_currency":"1080.50","createdate":"2025-03-03T09:00:00.000Z","closedate":"2025-03-23T09:00:00Z",
				"hs_is_closed":"true","hs_is_closed_won":"true","hs_lastmodifieddate":"2025-03-23T09:05:00.000Z"}`,
			want: dealData{Owner: "7788993", Team: "42", Pipeline: "default", Stage: "closedwon", Amount: ptr(1080.5),
				Created: t0, Closed: t2, IsClosed: true, IsWon: true},
		},
		{
			name:  "epoch milliseconds, empty home currency, numbers as JSON numbers",
			props: `{"hubspot_owner_id":7788993,"amount":2500,"amount_in_home_currency":"","createdate":"1740992400000","closedate":null,"hs_is_closed":"false","hs_is_closed_won":false}`,
			want:  dealData{Owner: "7788993", Team: "42", Amount: ptr(2500), Created: t0},
		},
		{
			name:  "date only and missing create date from createdAt",
			props: `{"closedate":"2025-03-23","hs_is_closed_won":"true"}`,
			want:  dealData{Created: created, Closed: time.Date(2025, 3, 23, 0, 0, 0, 0, time.UTC), IsClosed: true, IsWon: true},
		},
		{
			name:  "values that do not parse are reported",
			props: `{"amount":"12,000","createdate":"yesterday","hs_is_closed":"maybe","pipeline":{"id":1},"hubspot_owner_id":"7788999"}`,
			want:  dealData{Owner: "7788999", Team: "57", Invalid: []string{"pipeline", "createdate", "hs_is_closed", "amount"}},
		},
		{
			name:  "broken home currency leaves the amount unknown",
			props: `{"amount":"100","amount_in_home_currency":"abc"}`,
			want:  dealData{Created: created, Invalid: []string{"amount_in_home_currency"}},
		},
		{
			name:  "owner not listed has no team",
			props: `{"hubspot_owner_id":"7788000"}`,
			want:  dealData{Owner: "7788000", Created: created},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := buildDeal(mustProps(t, tt.props), created, testDir)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestBuildMeeting(t *testing.T) {
	tests := []struct {
		name  string
		props string
		want  meetingData
	}{
		{
			name: "booked by an SDR for an AE",
			props: `{"hubspot_owner_id":"7788993","hs_created_by_user_id":"9001","hs_meeting_outcome":"COMPLETED",
				"hs_createdate":"2025-03-03T09:00:00Z","hs_meeting_start_time":"2025-03-05T09:00:00.000Z","hs_timestamp":"1741165200000"}`,
			want: meetingData{Owner: "7788993", OwnerTeam: "42", CreatorUser: "9001", Creator: "7788991", CreatorTeam: "42",
				Outcome: OutcomeCompleted, Created: t0, Start: t1, Timestamp: t1},
		},
		{
			name:  "creator that is not an owner, lower-case outcome",
			props: `{"hubspot_owner_id":"7788991","hs_created_by_user_id":"12345","hs_meeting_outcome":"no_show","hs_createdate":"2025-03-03T09:00:00Z"}`,
			want:  meetingData{Owner: "7788991", OwnerTeam: "42", CreatorUser: "12345", Outcome: OutcomeNoShow, Created: t0},
		},
		{
			name:  "bad start time",
			props: `{"hs_meeting_start_time":"soon","hs_timestamp":"2025-03-05T09:00:00Z","hs_createdate":"2025-03-03T09:00:00Z"}`,
			want:  meetingData{Created: t0, Timestamp: t1, Invalid: []string{"hs_meeting_start_time"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := buildMeeting(mustProps(t, tt.props), time.Time{}, testDir)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
