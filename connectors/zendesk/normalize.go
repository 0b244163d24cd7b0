package zendesk

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/pipeline"
)

// Record kinds.
const (
	KindTicket     = "ticket"
	KindOpenTicket = "open_ticket"
)

// Measures derived by this connector (SPEC §4.1).
const (
	MeasureTicketsSolved      = "zendesk_tickets_solved"
	MeasureFirstReplyTime     = "zendesk_first_reply_time_seconds"
	MeasureFullResolutionTime = "zendesk_full_resolution_time_seconds"
	MeasureTicketReopened     = "zendesk_ticket_reopened"
	MeasureCSAT               = "zendesk_csat"
	MeasureBacklog            = "zendesk_backlog"
)

// Sample labels (SPEC §4).
const (
	LabelPriority = "priority"
	LabelGroup    = "group"
)

// ticketRecord is Record.Data of a "ticket" record: the fields the
// normaliser derives from, nothing else.
type ticketRecord struct {
	ID         int64     `json:"id"`
	Status     string    `json:"status"`
	Priority   string    `json:"priority,omitempty"`
	AssigneeID int64     `json:"assignee_id,omitempty"`
	GroupID    int64     `json:"group_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// CSAT is satisfaction_rating.score (good, bad, offered, unoffered).
	CSAT string `json:"csat,omitempty"`
	// Metrics is the side-loaded metric set; nil when the ticket had none.
	Metrics *metricsRecord `json:"metrics,omitempty"`
}

// metricsRecord keeps the metric set's fields; nil minutes are "not yet".
type metricsRecord struct {
	SolvedAt               *time.Time `json:"solved_at,omitempty"`
	Reopens                int64      `json:"reopens,omitempty"`
	ReplyCalendar          *float64   `json:"reply_calendar,omitempty"`
	ReplyBusiness          *float64   `json:"reply_business,omitempty"`
	FullResolutionCalendar *float64   `json:"full_resolution_calendar,omitempty"`
	FullResolutionBusiness *float64   `json:"full_resolution_business,omitempty"`
}

// openTicketRecord is Record.Data of an "open_ticket" record.
type openTicketRecord struct {
	ID         int64     `json:"id"`
	Status     string    `json:"status"`
	Priority   string    `json:"priority,omitempty"`
	AssigneeID int64     `json:"assignee_id,omitempty"`
	GroupID    int64     `json:"group_id,omitempty"`
	ListedAt   time.Time `json:"listed_at"`
}

// Normalize derives the samples of one record. It is pure: it reads the
// record and the connector's options (business_hours, priority_weights), so
// `kpid recompute` after an option change re-derives every sample.
//
// A "ticket" record gives:
//   - zendesk_tickets_solved: for a solved ticket, the priority weight, at
//     solved_at. A ticket is solved when its metric set has a solved_at
//     (SPEC §4.1: "ticket with metric_set.solved_at"), whatever its status.
//     Zendesk keeps solved_at (the most recent solve) on a ticket that was
//     reopened, so a reopened ticket still counts at its last solve (with
//     zendesk_ticket_reopened 1); when it is solved again, its record and
//     samples are replaced with the new solve.
//   - zendesk_first_reply_time_seconds: for a ticket with a first reply
//     (reply_time_in_minutes.calendar set), the calendar or business minutes
//     × 60, at created_at + the calendar minutes (when the reply was made).
//     With business_hours and no business value, no sample.
//   - zendesk_full_resolution_time_seconds: for a solved ticket,
//     full_resolution_time_in_minutes (calendar or business) × 60, at
//     solved_at.
//   - zendesk_ticket_reopened: for a solved ticket, 1 if reopens > 0, else 0,
//     at solved_at.
//   - zendesk_csat: for a ticket rated good (1) or bad (0), at the metric
//     set's solved_at, else updated_at; offered and unoffered are not
//     ratings.
//
// An "open_ticket" record gives one zendesk_backlog sample of 1 at its
// listing time. Deleted records give nothing.
//
// Every sample carries Actor = assignee_id, TeamKey = group_id (the key of
// the connector's teams mapping) and the labels priority and group, each
// left out when the ticket has none.
func (c *Connector) Normalize(rec connectors.Record) ([]pipeline.Sample, error) {
	return normalize(&c.cfg, rec)
}

func normalize(cfg *Config, rec connectors.Record) ([]pipeline.Sample, error) {
	if rec.Deleted {
		return nil, nil
	}
	switch rec.Kind {
	case KindTicket:
		var t ticketRecord
		if err := json.Unmarshal(rec.Data, &t); err != nil {
			return nil, fmt.Errorf("decode zendesk ticket record %s: %w", rec.ID, err)
		}
		return ticketSamples(cfg, &t), nil
	case KindOpenTicket:
		var t openTicketRecord
		if err := json.Unmarshal(rec.Data, &t); err != nil {
			return nil, fmt.Errorf("decode zendesk open ticket record %s: %w", rec.ID, err)
		}
		s := newSample(MeasureBacklog, t.ListedAt, 1, t.AssigneeID, t.GroupID, t.Priority)
		return []pipeline.Sample{s}, nil
	default:
		return nil, fmt.Errorf("normalize zendesk record %s: unknown kind %q", rec.ID, rec.Kind)
	}
}

// solved reports whether a ticket counts as solved, and when: its metric
// set has a solved_at (SPEC §4.1), whatever its current status.
func (t *ticketRecord) solved() (time.Time, bool) {
	if t.Metrics == nil || t.Metrics.SolvedAt == nil || t.Metrics.SolvedAt.IsZero() {
		return time.Time{}, false
	}
	return *t.Metrics.SolvedAt, true
}

func ticketSamples(cfg *Config, t *ticketRecord) []pipeline.Sample {
	if t.Status == "deleted" {
		return nil
	}
	var out []pipeline.Sample
	add := func(measure string, at time.Time, v float64) {
		out = append(out, newSample(measure, at, v, t.AssigneeID, t.GroupID, t.Priority))
	}
	m := t.Metrics
	pickMinutes := func(calendar, business *float64) *float64 {
		if cfg.BusinessHours {
			return usableMinutes(business)
		}
		return usableMinutes(calendar)
	}

	if solvedAt, ok := t.solved(); ok {
		add(MeasureTicketsSolved, solvedAt, cfg.weight(t.Priority))
		if v := pickMinutes(m.FullResolutionCalendar, m.FullResolutionBusiness); v != nil {
			add(MeasureFullResolutionTime, solvedAt, *v*60)
		}
		reopened := 0.0
		if m.Reopens > 0 {
			reopened = 1
		}
		add(MeasureTicketReopened, solvedAt, reopened)
	}
	if m != nil && usableMinutes(m.ReplyCalendar) != nil && !t.CreatedAt.IsZero() {
		if v := pickMinutes(m.ReplyCalendar, m.ReplyBusiness); v != nil {
			at := t.CreatedAt.Add(time.Duration(*m.ReplyCalendar * float64(time.Minute)))
			add(MeasureFirstReplyTime, at, *v*60)
		}
	}
	if t.CSAT == "good" || t.CSAT == "bad" {
		at := t.UpdatedAt
		if m != nil && m.SolvedAt != nil && !m.SolvedAt.IsZero() {
			at = *m.SolvedAt
		}
		v := 0.0
		if t.CSAT == "good" {
			v = 1
		}
		add(MeasureCSAT, at, v)
	}
	return out
}

// usableMinutes returns p when it is a number of minutes a duration can
// hold (finite, within time.Duration's range), else nil: a corrupt metric
// gives no sample rather than an infinite or wrapped-around one.
func usableMinutes(p *float64) *float64 {
	if p == nil || math.IsNaN(*p) || math.Abs(*p) >= float64(math.MaxInt64)/float64(time.Minute) {
		return nil
	}
	return p
}

func newSample(measure string, at time.Time, v float64, assignee, group int64, priority string) pipeline.Sample {
	s := pipeline.Sample{Measure: measure, Time: at.UTC(), Value: v}
	if assignee > 0 {
		s.Actor = strconv.FormatInt(assignee, 10)
	}
	if group > 0 {
		s.TeamKey = strconv.FormatInt(group, 10)
	}
	if priority != "" || group > 0 {
		s.Labels = make(map[string]string, 2)
		if priority != "" {
			s.Labels[LabelPriority] = priority
		}
		if group > 0 {
			s.Labels[LabelGroup] = s.TeamKey
		}
	}
	return s
}
