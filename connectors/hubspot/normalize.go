package hubspot

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/pipeline"
)

// Measures derived by this connector (SPEC §4.1).
const (
	MeasureMeetingsBooked        = "hubspot_meetings_booked"
	MeasureMeetingsHeld          = "hubspot_meetings_held"
	MeasureMeetingShow           = "hubspot_meeting_show"
	MeasureDealsWon              = "hubspot_deals_won"
	MeasureDealsWonAmount        = "hubspot_deals_won_amount"
	MeasureDealWon               = "hubspot_deal_won"
	MeasureSalesCycleSeconds     = "hubspot_sales_cycle_seconds"
	MeasurePipelineCreatedAmount = "hubspot_pipeline_created_amount"
)

// LabelPipeline is the low-cardinality label of deal samples.
const LabelPipeline = "pipeline"

// Normalize derives the samples of one stored record. It is pure: it reads
// only the record and the connector's options (excluded outcomes, meeting
// attribution), so `kpid recompute` re-derives samples after an option
// change without any API call.
//
// Meetings (actor: the owner, or the creator with meeting_attribution
// creator; team key: that owner's primary team id):
//   - hubspot_meetings_booked: 1 at hs_createdate unless the outcome is
//     excluded (a meeting without outcome counts);
//   - hubspot_meetings_held: 1 for outcome COMPLETED, at
//     hs_meeting_start_time, else hs_timestamp;
//   - hubspot_meeting_show: 1 for COMPLETED, 0 for NO_SHOW, same time.
//
// A meeting with neither start time nor timestamp has no held/show sample.
//
// Deals (actor: hubspot_owner_id; team key: its primary team id; label
// pipeline):
//   - hubspot_pipeline_created_amount: amount (0 when empty) at createdate;
//   - hubspot_deal_won: for a closed deal, 1 won / 0 lost, at closedate;
//   - hubspot_deals_won: 1 for a won deal at closedate;
//   - hubspot_deals_won_amount: a won deal's amount (0 when empty, as for
//     the pipeline created: one sample per won deal) at closedate;
//   - hubspot_sales_cycle_seconds: closedate − createdate of a won deal
//     (negative for a deal imported after it closed, as HubSpot holds it).
//
// A property whose value did not parse at sync time suppresses the samples
// that depend on it; it is never read as zero.
func (c *Connector) Normalize(rec connectors.Record) ([]pipeline.Sample, error) {
	if rec.Deleted {
		return nil, nil
	}
	switch rec.Kind {
	case KindMeeting:
		var m meetingData
		if err := json.Unmarshal(rec.Data, &m); err != nil {
			return nil, fmt.Errorf("decode hubspot meeting record %s: %w", rec.ID, err)
		}
		return c.meetingSamples(m), nil
	case KindDeal:
		var d dealData
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			return nil, fmt.Errorf("decode hubspot deal record %s: %w", rec.ID, err)
		}
		return dealSamples(d), nil
	}
	return nil, fmt.Errorf("normalize hubspot record %s: unknown kind %q", rec.ID, rec.Kind)
}

func (c *Connector) meetingSamples(m meetingData) []pipeline.Sample {
	actor, team := m.Owner, m.OwnerTeam
	if c.attribution == AttributionCreator {
		actor, team = m.Creator, m.CreatorTeam
	}
	sample := func(measure string, at time.Time, v float64) pipeline.Sample {
		return pipeline.Sample{Measure: measure, Time: at, Value: v, Actor: actor, TeamKey: team}
	}
	var out []pipeline.Sample
	outcome := strings.ToUpper(strings.TrimSpace(m.Outcome))
	if !m.Created.IsZero() && !c.excluded[outcome] {
		out = append(out, sample(MeasureMeetingsBooked, m.Created, 1))
	}
	held := m.Start
	if held.IsZero() && !contains(m.Invalid, "hs_meeting_start_time") {
		held = m.Timestamp
	}
	if held.IsZero() {
		return out
	}
	switch outcome {
	case OutcomeCompleted:
		out = append(out,
			sample(MeasureMeetingsHeld, held, 1),
			sample(MeasureMeetingShow, held, 1))
	case OutcomeNoShow:
		out = append(out, sample(MeasureMeetingShow, held, 0))
	}
	return out
}

func dealSamples(d dealData) []pipeline.Sample {
	sample := func(measure string, at time.Time, v float64) pipeline.Sample {
		s := pipeline.Sample{Measure: measure, Time: at, Value: v, Actor: d.Owner, TeamKey: d.Team}
		if d.Pipeline != "" {
			s.Labels = map[string]string{LabelPipeline: d.Pipeline}
		}
		return s
	}
	amountBroken := contains(d.Invalid, "amount_in_home_currency") ||
		(d.Amount == nil && contains(d.Invalid, "amount"))
	// An empty amount counts 0 (SPEC §4.1, "0 if empty"); one that did not
	// parse gives no amount sample.
	amount := 0.0
	if d.Amount != nil {
		amount = *d.Amount
	}
	var out []pipeline.Sample
	if !d.Created.IsZero() && !amountBroken {
		out = append(out, sample(MeasurePipelineCreatedAmount, d.Created, amount))
	}
	closedBroken := contains(d.Invalid, "hs_is_closed") || contains(d.Invalid, "hs_is_closed_won")
	if !d.IsClosed || d.Closed.IsZero() || closedBroken {
		return out
	}
	at := d.Closed
	if !d.IsWon {
		return append(out, sample(MeasureDealWon, at, 0))
	}
	out = append(out, sample(MeasureDealWon, at, 1), sample(MeasureDealsWon, at, 1))
	// One sample per won deal (SPEC §4.1), its amount 0 when empty.
	if !amountBroken {
		out = append(out, sample(MeasureDealsWonAmount, at, amount))
	}
	if !d.Created.IsZero() {
		// No exception for a negative cycle (a deal imported after it
		// closed): SPEC §4.1 defines the value as closedate − createdate.
		out = append(out, sample(MeasureSalesCycleSeconds, at, d.Closed.Sub(d.Created).Seconds()))
	}
	return out
}
