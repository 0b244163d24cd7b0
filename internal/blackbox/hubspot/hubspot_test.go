// Package hubspot is the black-box acceptance test of kpid's HubSpot
// connector: the real kpid binary against a small fake of HubSpot's CRM API
// written from HubSpot's public documentation (not from kpid's simulator),
// with every expected KPI series worked out by hand from SPEC §4.1, §5.2 and
// §6.1.
package hubspot

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpid/kpid/internal/blackbox"
)

const token = "pat-na1-blackbox-token"

// now is kpid's frozen KPI clock. Windows end here (closed) and start at
// now − window (open):
//
//	28d:  (2026-02-02T12:00Z, 2026-03-02T12:00Z]
//	90d:  (2025-12-02T12:00Z, 2026-03-02T12:00Z]   (Mar 2 −29d = Feb 1, −31d = Jan 1, −30d = Dec 2)
//
// Baseline periods (§5.2: (now − window − baseline, now − window]):
//
//	28d window, 56d baseline:  (2025-12-08T12:00Z, 2026-02-02T12:00Z]
//	90d window, 180d baseline: (2025-06-05T12:00Z, 2025-12-02T12:00Z]
var now = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// ---------------------------------------------------------------------------
// Dataset.

// owner is one HubSpot owner as GET /crm/v3/owners returns it.
type owner struct {
	ID, Email, First, Last string
	UserID                 int64
	Teams                  []team
}

type team struct {
	ID      string
	Name    string
	Primary bool
}

// Owners:
//
//	101 carol (declared by owner id, sdr, kpid team sales)
//	102 dave  (declared by owner id, ae, kpid team sales)
//	103 erin  (declared by EMAIL, ae, kpid team emea; her HubSpot team 42
//	          maps to sales, but a declared person's own team wins, §4)
//	201 undeclared; primary team 42 (-> sales) listed after a non-primary 55
//	202 undeclared; team 77 (-> partners)
//	203 undeclared; no team (org-wide only)
var owners = []owner{
	{ID: "101", Email: "carol@acme.example", First: "Carol", Last: "C", UserID: 9101, Teams: []team{{"42", "Sales", true}}},
	{ID: "102", Email: "dave@acme.example", First: "Dave", Last: "D", UserID: 9102, Teams: []team{{"55", "Inbound", false}, {"42", "Sales", true}}},
	{ID: "103", Email: "erin@acme.example", First: "Erin", Last: "E", UserID: 9103, Teams: []team{{"42", "Sales", true}}},
	{ID: "201", Email: "zed@acme.example", First: "Zed", Last: "Z", UserID: 9201, Teams: []team{{"55", "Inbound", false}, {"42", "Sales", true}}},
	{ID: "202", Email: "yan@partner.example", First: "Yan", Last: "Y", UserID: 9202, Teams: []team{{"77", "Partners", true}}},
	{ID: "203", Email: "xia@acme.example", First: "Xia", Last: "X", UserID: 9203},
}

// object is one CRM object; a property whose value is nil is unset (HubSpot
// answers null for a requested property without a value).
type object struct {
	ID    string
	Props map[string]any
}

const (
	created  = "hs_createdate" // meetings
	start    = "hs_meeting_start_time"
	stamp    = "hs_timestamp"
	outcome  = "hs_meeting_outcome"
	ownerID  = "hubspot_owner_id"
	lastMod  = "hs_lastmodifieddate"
	dCreated = "createdate" // deals
	dClosed  = "closedate"
)

// Meetings (times in 2026 unless a year is given):
//
//	id   owner outcome      created          start            hs_timestamp
//	1001 101   COMPLETED    Feb 10 09:00     Feb 12 15:00     Feb 01 00:00 (start wins)
//	1002 101   NO_SHOW      Feb 11           Feb 13 15:00     = start
//	1003 101   CANCELED     Feb 14           Feb 20 15:00     = start
//	1004 101   SCHEDULED    Feb 20           Mar 05 15:00     = start
//	1005 101   RESCHEDULED  Feb 21           Feb 23 15:00     = start
//	1006 101   COMPLETED    Feb 24           (none)           Feb 25 10:00
//	1007 101   COMPLETED    Jan 20           Feb 03 10:00     = start
//	1008 101   COMPLETED    Feb 02 12:00:00  Mar 02 12:00:00  = start   (window edges)
//	1009 201   COMPLETED    Feb 15           Feb 16 15:00     = start
//	1010 203   SCHEDULED    Feb 18           Mar 10 15:00     = start
//	1011 103   NO_SHOW      Feb 05           Feb 06 15:00     = start
//	1012 101   (none)       Feb 26           Feb 27 15:00     = start
//	1013 101   COMPLETED    2025-12-01       2025-12-01 10:00 = start
var meetings = []object{
	meeting("1001", "101", "COMPLETED", "2026-02-10T09:00:00.000Z", "2026-02-12T15:00:00.000Z", "2026-02-01T00:00:00.000Z", "2026-02-12T16:00:00.000Z"),
	meeting("1002", "101", "NO_SHOW", "2026-02-11T09:00:00.000Z", "2026-02-13T15:00:00.000Z", "", "2026-02-13T16:00:00.000Z"),
	meeting("1003", "101", "CANCELED", "2026-02-14T09:00:00.000Z", "2026-02-20T15:00:00.000Z", "", "2026-02-15T10:00:00.000Z"),
	meeting("1004", "101", "SCHEDULED", "2026-02-20T09:00:00.000Z", "2026-03-05T15:00:00.000Z", "", "2026-02-20T09:05:00.000Z"),
	meeting("1005", "101", "RESCHEDULED", "2026-02-21T09:00:00.000Z", "2026-02-23T15:00:00.000Z", "", "2026-02-22T10:00:00.000Z"),
	meeting("1006", "101", "COMPLETED", "2026-02-24T09:00:00.000Z", "", "2026-02-25T10:00:00.000Z", "2026-02-25T11:00:00.000Z"),
	meeting("1007", "101", "COMPLETED", "2026-01-20T09:00:00.000Z", "2026-02-03T10:00:00.000Z", "", "2026-02-03T11:00:00.000Z"),
	meeting("1008", "101", "COMPLETED", "2026-02-02T12:00:00.000Z", "2026-03-02T12:00:00.000Z", "", "2026-03-01T09:00:00.000Z"),
	meeting("1009", "201", "COMPLETED", "2026-02-15T09:00:00.000Z", "2026-02-16T15:00:00.000Z", "", "2026-02-16T16:00:00.000Z"),
	meeting("1010", "203", "SCHEDULED", "2026-02-18T09:00:00.000Z", "2026-03-10T15:00:00.000Z", "", "2026-02-18T09:00:00.000Z"),
	meeting("1011", "103", "NO_SHOW", "2026-02-05T09:00:00.000Z", "2026-02-06T15:00:00.000Z", "", "2026-02-06T16:00:00.000Z"),
	meeting("1012", "101", "", "2026-02-26T09:00:00.000Z", "2026-02-27T15:00:00.000Z", "", "2026-02-26T09:00:00.000Z"),
	meeting("1013", "101", "COMPLETED", "2025-12-01T09:00:00.000Z", "2025-12-01T10:00:00.000Z", "", "2025-12-01T11:00:00.000Z"),
}

// meeting builds a meeting; "" leaves a property unset, except stamp ""
// which copies the start time (HubSpot sets hs_timestamp to the start).
func meeting(id, own, out, createdAt, startAt, stampAt, mod string) object {
	if stampAt == "" {
		stampAt = startAt
	}
	p := map[string]any{
		created: createdAt, ownerID: own, lastMod: mod,
		outcome: nilIfEmpty(out), start: nilIfEmpty(startAt), stamp: nilIfEmpty(stampAt),
		"hs_created_by_user_id": "1",
	}
	return object{ID: id, Props: p}
}

// Deals (2026 unless a year is given; amounts as HubSpot renders them):
//
//	id   owner pipeline   closed won  amount    in home  created           closedate          cycle
//	2001 102   default    yes    yes  "1500"    "1650"   Jan 01            Jan 31             30d = 2,592,000 s
//	2002 102   default    yes    yes  "1500.50" (none)   Feb 01            Feb 11             10d =   864,000 s
//	2003 103   enterprise yes    yes  ""        (none)   2025-12-20        Feb 20             62d = 5,356,800 s
//	2004 102   default    yes    no   "800"     "800"    Jan 10            Feb 15             -
//	2005 102   default    no     no   "2000"    "2000"   Feb 25            Feb 28 (expected)  -
//	2006 202   partner    yes    yes  "3000"    "3000"   Jan 15            Feb 05             21d = 1,814,400 s
//	2007 102   default    yes    yes  "500"     "500"    2025-10-20        2025-11-20         31d = 2,678,400 s
//	2008 102   default    yes    yes  "100"     "100"    2025-11-25 12:00  2025-12-02 12:00   7d  =   604,800 s  (closed at now−90d)
//	2009 203   default    yes    yes  "250"     "250"    Feb 26 12:00      Mar 02 12:00 (now) 4d  =   345,600 s
//	2010 202   partner    yes    no   (none)    (none)   Jan 05            Feb 25             -
var deals = []object{
	deal("2001", "102", "default", "closedwon", true, true, "1500", "1650", "2026-01-01T00:00:00.000Z", "2026-01-31T00:00:00.000Z", "2026-01-31T01:00:00.000Z"),
	deal("2002", "102", "default", "closedwon", true, true, "1500.50", nil, "2026-02-01T00:00:00.000Z", "2026-02-11T00:00:00.000Z", "2026-02-11T01:00:00.000Z"),
	deal("2003", "103", "enterprise", "closedwon", true, true, "", nil, "2025-12-20T00:00:00.000Z", "2026-02-20T00:00:00.000Z", "2026-02-20T01:00:00.000Z"),
	deal("2004", "102", "default", "closedlost", true, false, "800", "800", "2026-01-10T00:00:00.000Z", "2026-02-15T00:00:00.000Z", "2026-02-15T01:00:00.000Z"),
	deal("2005", "102", "default", "appointmentscheduled", false, false, "2000", "2000", "2026-02-25T00:00:00.000Z", "2026-02-28T00:00:00.000Z", "2026-02-25T01:00:00.000Z"),
	deal("2006", "202", "partner", "closedwon", true, true, "3000", "3000", "2026-01-15T00:00:00.000Z", "2026-02-05T00:00:00.000Z", "2026-02-05T01:00:00.000Z"),
	deal("2007", "102", "default", "closedwon", true, true, "500", "500", "2025-10-20T00:00:00.000Z", "2025-11-20T00:00:00.000Z", "2025-11-20T01:00:00.000Z"),
	deal("2008", "102", "default", "closedwon", true, true, "100", "100", "2025-11-25T12:00:00.000Z", "2025-12-02T12:00:00.000Z", "2025-12-02T13:00:00.000Z"),
	deal("2009", "203", "default", "closedwon", true, true, "250", "250", "2026-02-26T12:00:00.000Z", "2026-03-02T12:00:00.000Z", "2026-03-02T12:00:00.000Z"),
	deal("2010", "202", "partner", "closedlost", true, false, nil, nil, "2026-01-05T00:00:00.000Z", "2026-02-25T00:00:00.000Z", "2026-02-25T01:00:00.000Z"),
}

func deal(id, own, pipeline, stage string, closed, won bool, amount, home any, createdAt, closedAt, mod string) object {
	return object{ID: id, Props: map[string]any{
		ownerID: own, "pipeline": pipeline, "dealstage": stage,
		"hs_is_closed": strconv.FormatBool(closed), "hs_is_closed_won": strconv.FormatBool(won),
		"amount": amount, "amount_in_home_currency": home,
		dCreated: createdAt, dClosed: closedAt, lastMod: mod,
	}}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ---------------------------------------------------------------------------
// Fake HubSpot API.

// fake is a HubSpot portal. It answers up to pageSize objects a page
// (HubSpot allows 200 for search, 100 for owners; a server may return
// fewer): small, so that kpid pages through every listing.
type fake struct {
	mu       sync.Mutex
	meetings []object
	deals    []object
	owners   []owner
	pageSize int
	// lagging lists objects the search index does not return yet (HubSpot's
	// index lags behind writes): ids -> hidden.
	lagging map[string]bool
	// throttle answers the next search with HubSpot's SECONDLY 429.
	throttle bool

	ownerLimits []string     // the limit of every owners request
	searches    []searchBody // every search body received, in order
	searchedAt  []time.Time  // when each search request arrived (wall clock)
	badAuth     int
}

type searchBody struct {
	Object       string
	FilterGroups []struct {
		Filters []struct {
			PropertyName string `json:"propertyName"`
			Operator     string `json:"operator"`
			Value        string `json:"value"`
		} `json:"filters"`
	} `json:"filterGroups"`
	Sorts      []json.RawMessage `json:"sorts"`
	Properties []string          `json:"properties"`
	Limit      int               `json:"limit"`
	After      string            `json:"after"`
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	if r.Header.Get("Authorization") != "Bearer "+token {
		f.mu.Lock()
		f.badAuth++
		f.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/crm/v3/owners":
		f.listOwners(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/crm/v3/objects/meetings/search":
		f.search(w, r, "meetings", f.meetings)
	case r.Method == http.MethodPost && r.URL.Path == "/crm/v3/objects/deals/search":
		f.search(w, r, "deals", f.deals)
	default:
		writeError(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "resource not found")
	}
}

func writeError(w http.ResponseWriter, status int, category, msg string) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "error", "message": msg, "category": category,
		"correlationId": "00000000-0000-0000-0000-000000000000",
	})
}

func (f *fake) listOwners(w http.ResponseWriter, r *http.Request) {
	owners := f.owners
	f.ownerLimits = append(f.ownerLimits, r.URL.Query().Get("limit"))
	limit := 100
	if v, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && v > 0 && v < limit {
		limit = v
	}
	limit = min(limit, 2) // page the owners too
	off, _ := strconv.Atoi(r.URL.Query().Get("after"))
	end := min(off+limit, len(owners))
	var results []map[string]any
	for _, o := range owners[min(off, len(owners)):end] {
		teams := []map[string]any{}
		for _, t := range o.Teams {
			teams = append(teams, map[string]any{"id": t.ID, "name": t.Name, "primary": t.Primary})
		}
		results = append(results, map[string]any{
			"id": o.ID, "email": o.Email, "firstName": o.First, "lastName": o.Last, "type": "PERSON",
			"userId": o.UserID, "userIdIncludingInactive": o.UserID,
			"createdAt": "2024-01-10T14:22:31.123Z", "updatedAt": "2025-02-03T09:15:44.987Z",
			"archived": false, "teams": teams,
		})
	}
	// HubSpot's rate-limit headers (private apps): a 10-second burst budget
	// and the daily one.
	w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
	w.Header().Set("X-HubSpot-RateLimit-Max", "190")
	w.Header().Set("X-HubSpot-RateLimit-Remaining", "189")
	w.Header().Set("X-HubSpot-RateLimit-Daily", "250000")
	w.Header().Set("X-HubSpot-RateLimit-Daily-Remaining", "249990")
	resp := map[string]any{"results": results}
	if end < len(owners) {
		resp["paging"] = map[string]any{"next": map[string]any{
			"after": strconv.Itoa(end), "link": "https://api.hubapi.com/crm/v3/owners?after=" + strconv.Itoa(end),
		}}
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// parseWhen reads a filter value or a property as a time: epoch
// milliseconds or ISO 8601 (HubSpot accepts both in filters).
func parseWhen(s string) (time.Time, bool) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// compare compares a property value with a filter value: as times, else as
// numbers, else as text.
func compare(prop, val string) int {
	if a, err := strconv.ParseFloat(prop, 64); err == nil {
		if b, err := strconv.ParseFloat(val, 64); err == nil {
			return cmpFloat(a, b)
		}
	}
	if a, ok := parseWhen(prop); ok {
		if b, ok := parseWhen(val); ok {
			return a.Compare(b)
		}
	}
	return strings.Compare(prop, val)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// prop returns an object's property as text ("" when unset); hs_object_id is
// the id.
func prop(o object, name string) (string, bool) {
	if name == "hs_object_id" {
		return o.ID, true
	}
	v, ok := o.Props[name]
	if !ok || v == nil {
		return "", false
	}
	return fmt.Sprint(v), true
}

func (f *fake) search(w http.ResponseWriter, r *http.Request, kind string, all []object) {
	var body searchBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", "Invalid input JSON: "+err.Error())
		return
	}
	body.Object = kind
	f.searches = append(f.searches, body)
	f.searchedAt = append(f.searchedAt, time.Now())
	if f.throttle {
		f.throttle = false
		w.WriteHeader(http.StatusTooManyRequests)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"status": "error", "message": "You have reached your secondly limit.",
			"errorType": "RATE_LIMIT", "correlationId": "4b6b1a5e-8f5e-4a0e-9d52-3c1f2f7b8e11",
			"policyName": "SECONDLY",
		})
		return
	}
	if body.Limit > 200 {
		writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", "limit must be at most 200")
		return
	}
	// Filter groups are ORed, filters within a group ANDed.
	var hits []object
	for _, o := range all {
		if f.lagging[o.ID] {
			continue
		}
		ok := len(body.FilterGroups) == 0
		for _, g := range body.FilterGroups {
			match := true
			for _, fl := range g.Filters {
				v, set := prop(o, fl.PropertyName)
				var c int
				if set {
					c = compare(v, fl.Value)
				}
				switch strings.ToUpper(fl.Operator) {
				case "GTE":
					match = match && set && c >= 0
				case "GT":
					match = match && set && c > 0
				case "LTE":
					match = match && set && c <= 0
				case "LT":
					match = match && set && c < 0
				case "EQ":
					match = match && set && c == 0
				case "HAS_PROPERTY":
					match = match && set
				}
			}
			ok = ok || match
		}
		if ok {
			hits = append(hits, o)
		}
	}
	// Sorts: objects {propertyName, direction} or plain property names;
	// default by id.
	sortBy, desc := "hs_object_id", false
	for _, raw := range body.Sorts {
		var s struct{ PropertyName, Direction string }
		if json.Unmarshal(raw, &s) != nil {
			var name string
			_ = json.Unmarshal(raw, &name)
			s.PropertyName = name
		}
		if s.PropertyName != "" {
			sortBy, desc = s.PropertyName, strings.EqualFold(s.Direction, "DESCENDING")
		}
		break
	}
	sort.SliceStable(hits, func(i, j int) bool {
		a, _ := prop(hits[i], sortBy)
		b, _ := prop(hits[j], sortBy)
		c := compare(a, b)
		if c == 0 {
			c = compare(hits[i].ID, hits[j].ID)
		}
		if desc {
			return c > 0
		}
		return c < 0
	})
	limit := body.Limit
	if limit <= 0 {
		limit = 10
	}
	limit = min(limit, f.pageSize)
	off, _ := strconv.Atoi(body.After)
	end := min(off+limit, len(hits))
	results := []map[string]any{}
	for _, o := range hits[min(off, len(hits)):end] {
		createdProp := created
		if kind == "deals" {
			createdProp = dCreated
		}
		props := map[string]any{
			"hs_object_id": o.ID, createdProp: o.Props[createdProp], lastMod: o.Props[lastMod],
		}
		for _, name := range body.Properties {
			if name == "hs_object_id" {
				continue
			}
			props[name] = o.Props[name] // nil (null) when unset
		}
		results = append(results, map[string]any{
			"id": o.ID, "properties": props,
			"createdAt": o.Props[createdProp], "updatedAt": o.Props[lastMod], "archived": false,
		})
	}
	resp := map[string]any{"total": len(hits), "results": results}
	if end < len(hits) {
		resp["paging"] = map[string]any{"next": map[string]any{
			"after": strconv.Itoa(end), "link": "?after=" + strconv.Itoa(end),
		}}
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// ---------------------------------------------------------------------------
// Config.

const kpis = `
kpis:
  # Booked: meetings whose outcome is not CANCELED/NO_SHOW, at hs_createdate.
  - id: booked
    measure: hubspot_meetings_booked
    stat: count
    per: month
    window: 28d
    baseline: 56d
    target: 5
    targets: {"team:sales": 7, "person:carol": 6}
    scope: [org, team, person]
    roles: [sdr]
  # The same without roles and at person scope only.
  - id: booked_people
    measure: hubspot_meetings_booked
    stat: count
    window: 28d
    scope: [person]
  - id: held
    measure: hubspot_meetings_held
    stat: count
    window: 28d
    scope: [org, team, person]
    roles: [sdr]
  - id: show_rate
    measure: hubspot_meeting_show
    stat: mean
    window: 28d
    target: 0.8
    scope: [org, team, person]
    roles: [sdr]
  - id: deals_won
    measure: hubspot_deals_won
    stat: count
    per: month
    window: 90d
    target: 1
    targets: {"team:partners": 0.3}
    scope: [org, team, person]
    roles: [ae]
  - id: win_rate
    measure: hubspot_deal_won
    stat: mean
    window: 90d
    target: 60%
    scope: [org, team, person]
    roles: [ae]
  - id: sales_cycle
    measure: hubspot_sales_cycle_seconds
    stat: p50
    window: 90d
    baseline: 180d
    target: 30d
    scope: [org, team, person]
    roles: [ae]
  - id: revenue_won
    measure: hubspot_deals_won_amount
    stat: sum
    window: 90d
    baseline: 180d
    scope: [org, team]
  - id: pipeline_created
    measure: hubspot_pipeline_created_amount
    stat: sum
    per: month
    window: 90d
    target: 2000
    scope: [org, team]
  - id: pipeline_default
    measure: hubspot_pipeline_created_amount
    stat: sum
    window: 90d
    filter: {pipeline: default}
    scope: [org]
`

func config(baseURL string) string {
	return `
teams: [sales, emea, partners, apac]
people:
  - {id: carol, team: sales, roles: [sdr], hubspot: "101"}
  - {id: dave, team: sales, roles: [ae], hubspot: "102"}
  - {id: erin, team: emea, roles: [ae], hubspot: erin@acme.example}
  - {id: frank, team: sales, roles: [sdr]}
connectors:
  - name: hs
    type: hubspot
    schedule: "@every 1h"
    base_url: ` + baseURL + `
    token: ` + token + `
    lookback: 400d
    teams: {"42": sales, "77": partners, "88": apac}
` + kpis
}

// ---------------------------------------------------------------------------
// Expectations.

// series builds the expected kpi_* series of one KPI.
type series map[string]float64

// add sets the families of one series: v is kpi_value (nil: omitted), n
// kpi_samples, target kpi_target (nil: none; kpi_on_target derived from
// value, target and direction), base kpi_baseline (nil: omitted).
func (s series) add(kpi, window, team, person string, v *float64, n int, target *float64, higher bool, base *float64) {
	l := []string{"kpi", kpi, "window", window, "team", team, "person", person}
	if v != nil {
		s[blackbox.Key("kpi_value", l...)] = *v
	}
	s[blackbox.Key("kpi_samples", l...)] = float64(n)
	if target != nil {
		s[blackbox.Key("kpi_target", l...)] = *target
		if v != nil {
			on := *v <= *target
			if higher {
				on = *v >= *target
			}
			s[blackbox.Key("kpi_on_target", l...)] = b2f(on)
		}
	}
	if base != nil {
		s[blackbox.Key("kpi_baseline", l...)] = *base
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func f(v float64) *float64 { return &v }

const day = 86400.0

func expected() map[string]series {
	want := map[string]series{}
	const higher, lower = true, false

	// booked — count per month over 28d: value = n ÷ (28/30) = n·30/28.
	// In (Feb 2 12:00, Mar 2 12:00], at hs_createdate, outcome not
	// CANCELED/NO_SHOW:
	//   carol: 1001 Feb10, 1004 Feb20 (SCHEDULED), 1005 Feb21 (RESCHEDULED),
	//          1006 Feb24, 1012 Feb26 (no outcome)          = 5
	//          not 1002 (NO_SHOW), 1003 (CANCELED), 1007 (Jan20),
	//          1008 (created exactly at now−28d: the window is open there)
	//   201 (team 42 -> sales): 1009 Feb15                  = 1
	//   203 (no team): 1010 Feb18                           = 1
	//   erin: 1011 is NO_SHOW                               = 0
	// org 7 -> 7.5; sales 6 -> 6.428571…; carol 5 -> 5.357142…
	// Teams: carol's (sales) + mapping (sales, partners, apac); no booked
	// sample carries emea, and erin is no sdr.
	// Baseline 56d, per month: n ÷ (56/30). Period (Dec 8 12:00, Feb 2 12:00]:
	//   carol 1007 Jan20, 1008 Feb 2 12:00 (right edge closed) = 2 -> 2·30/56
	//   (1013 Dec 1 is before it.)
	// Targets: 5; team:sales 7; person:carol 6.
	b := series{}
	pm28 := func(n int) float64 { return float64(n) * 30 / 28 }
	bl := 2 * 30.0 / 56
	b.add("booked", "28d", "", "", f(pm28(7)), 7, f(5), higher, &bl)           // 7.5 ≥ 5
	b.add("booked", "28d", "sales", "", f(pm28(6)), 6, f(7), higher, &bl)      // 6.43 < 7
	b.add("booked", "28d", "partners", "", f(0), 0, f(5), higher, f(0))        // count: 0, baseline 0
	b.add("booked", "28d", "apac", "", f(0), 0, f(5), higher, f(0))            //
	b.add("booked", "28d", "sales", "carol", f(pm28(5)), 5, f(6), higher, &bl) // 5.36 < 6
	want["booked"] = b

	// booked_people — no roles: every declared person with a hubspot id
	// (carol, dave, erin; not frank). Person scope only: no org/team series.
	b = series{}
	b.add("booked_people", "28d", "sales", "carol", f(5), 5, nil, higher, nil)
	b.add("booked_people", "28d", "sales", "dave", f(0), 0, nil, higher, nil)
	b.add("booked_people", "28d", "emea", "erin", f(0), 0, nil, higher, nil)
	want["booked_people"] = b

	// held — COMPLETED meetings at hs_meeting_start_time, else hs_timestamp:
	//   carol: 1001 Feb12 (start; its hs_timestamp Feb 1 is outside),
	//          1006 Feb25 (no start: hs_timestamp), 1007 Feb03,
	//          1008 Mar 2 12:00 (= now, closed edge)        = 4
	//          not 1013 (Dec 1), not 1004/1005/1012 (not COMPLETED)
	//   201 (sales): 1009 Feb16                             = 1
	// org 5, sales 5, partners 0, apac 0, carol 4.
	b = series{}
	b.add("held", "28d", "", "", f(5), 5, nil, higher, nil)
	b.add("held", "28d", "sales", "", f(5), 5, nil, higher, nil)
	b.add("held", "28d", "partners", "", f(0), 0, nil, higher, nil)
	b.add("held", "28d", "apac", "", f(0), 0, nil, higher, nil)
	b.add("held", "28d", "sales", "carol", f(4), 4, nil, higher, nil)
	want["held"] = b

	// show_rate — mean of 1 (COMPLETED) / 0 (NO_SHOW) at the held time:
	//   carol: 1001 1, 1002 0, 1006 1, 1007 1, 1008 1     = 4/5 = 0.8
	//   201 (sales): 1009 1
	//   erin (emea): 1011 0 (Feb 6)
	//   1003 CANCELED, 1004/1005/1012: no sample.
	// org 5/7; sales 5/6; emea 0/1. emea is a team "on a stored sample of
	// the measure" (§6.1) although erin is no sdr. partners/apac: no
	// sample -> no value (mean), target shown, no on_target.
	b = series{}
	b.add("show_rate", "28d", "", "", f(5.0/7), 7, f(0.8), higher, nil)         // 0.714 < 0.8
	b.add("show_rate", "28d", "sales", "", f(5.0/6), 6, f(0.8), higher, nil)    // 0.833 ≥ 0.8
	b.add("show_rate", "28d", "emea", "", f(0), 1, f(0.8), higher, nil)         // 0 < 0.8
	b.add("show_rate", "28d", "partners", "", nil, 0, f(0.8), higher, nil)      //
	b.add("show_rate", "28d", "apac", "", nil, 0, f(0.8), higher, nil)          //
	b.add("show_rate", "28d", "sales", "carol", f(0.8), 5, f(0.8), higher, nil) // 0.8 ≥ 0.8
	want["show_rate"] = b

	// deals_won — won deals at closedate, count per month over 90d:
	// n ÷ (90/30) = n/3. In (Dec 2 12:00, Mar 2 12:00]:
	//   dave: 2001 Jan31, 2002 Feb11 = 2 (2007 Nov20 out; 2008 closed
	//         exactly at now−90d: out)
	//   erin (emea): 2003 Feb20 = 1
	//   202 (partners): 2006 Feb05 = 1
	//   203 (no team): 2009 Mar 2 12:00 (= now: in) = 1
	//   2005 is open (its expected closedate Feb 28 does not make it won).
	// org 5/3, sales 2/3, emea 1/3, partners 1/3, apac 0.
	// Teams: dave's sales, erin's emea, mapping sales/partners/apac.
	// Target 1; team:partners 0.3.
	b = series{}
	b.add("deals_won", "90d", "", "", f(5.0/3), 5, f(1), higher, nil)           // 1.67 ≥ 1
	b.add("deals_won", "90d", "sales", "", f(2.0/3), 2, f(1), higher, nil)      // 0.67 < 1
	b.add("deals_won", "90d", "emea", "", f(1.0/3), 1, f(1), higher, nil)       // 0.33 < 1
	b.add("deals_won", "90d", "partners", "", f(1.0/3), 1, f(0.3), higher, nil) // 0.33 ≥ 0.3
	b.add("deals_won", "90d", "apac", "", f(0), 0, f(1), higher, nil)           // 0 < 1
	b.add("deals_won", "90d", "sales", "dave", f(2.0/3), 2, f(1), higher, nil)
	b.add("deals_won", "90d", "emea", "erin", f(1.0/3), 1, f(1), higher, nil)
	want["deals_won"] = b

	// win_rate — closed deals (hs_is_closed true), 1 won / 0 lost, at
	// closedate, mean over 90d, target 60% = 0.6:
	//   dave: 2001 1, 2002 1, 2004 0 (Feb15) = 2/3
	//   erin: 2003 1 = 1
	//   202 (partners): 2006 1, 2010 0 (Feb25) = 1/2
	//   203: 2009 1
	//   not 2005 (open), 2007/2008 (outside).
	// org (1+1+0+1+1+0+1)/7 = 5/7.
	b = series{}
	b.add("win_rate", "90d", "", "", f(5.0/7), 7, f(0.6), higher, nil)
	b.add("win_rate", "90d", "sales", "", f(2.0/3), 3, f(0.6), higher, nil)
	b.add("win_rate", "90d", "emea", "", f(1), 1, f(0.6), higher, nil)
	b.add("win_rate", "90d", "partners", "", f(0.5), 2, f(0.6), higher, nil) // 0.5 < 0.6
	b.add("win_rate", "90d", "apac", "", nil, 0, f(0.6), higher, nil)
	b.add("win_rate", "90d", "sales", "dave", f(2.0/3), 3, f(0.6), higher, nil)
	b.add("win_rate", "90d", "emea", "erin", f(1), 1, f(0.6), higher, nil)
	want["win_rate"] = b

	// sales_cycle — won deals, closedate − createdate, at closedate, p50
	// (numpy linear), target 30d = 2,592,000 s, lower is better:
	//   org: [4d, 10d, 21d, 30d, 62d]: h = 4·0.5 = 2 -> 21d = 1,814,400
	//   dave/sales: [10d, 30d]: h = 0.5 -> 10d + 0.5·20d = 20d = 1,728,000
	//   erin/emea: [62d] = 5,356,800; partners: [21d] = 1,814,400
	// Baseline 180d: period (Jun 5 12:00, Dec 2 12:00] holds 2007 (31d) and
	// 2008 (7d, closed at its right edge), both dave's:
	//   p50 [7d, 31d] = 19d = 1,641,600 for org, sales, dave; the other
	//   series have no baseline sample -> omitted.
	b = series{}
	cyc := f(30 * day)
	bc := f(19 * day)
	b.add("sales_cycle", "90d", "", "", f(21*day), 5, cyc, lower, bc)
	b.add("sales_cycle", "90d", "sales", "", f(20*day), 2, cyc, lower, bc)
	b.add("sales_cycle", "90d", "emea", "", f(62*day), 1, cyc, lower, nil) // 62d > 30d
	b.add("sales_cycle", "90d", "partners", "", f(21*day), 1, cyc, lower, nil)
	b.add("sales_cycle", "90d", "apac", "", nil, 0, cyc, lower, nil)
	b.add("sales_cycle", "90d", "sales", "dave", f(20*day), 2, cyc, lower, bc)
	b.add("sales_cycle", "90d", "emea", "erin", f(62*day), 1, cyc, lower, nil)
	want["sales_cycle"] = b

	// revenue_won — won deal amounts (amount_in_home_currency when
	// present, else amount; one sample per won deal, empty = 0), sum 90d:
	//   dave: 2001 1650 (home, not 1500) + 2002 1500.50 = 3150.5 (2)
	//   erin: 2003 "" = 0 (1); 202: 2006 3000 (1); 203: 2009 250 (1)
	//   org 1650 + 1500.5 + 0 + 3000 + 250 = 6400.5 (5)
	// Baseline 180d, sum without per: scaled by window ÷ baseline = 90/180:
	//   2007 500 + 2008 100 = 600 -> 300 (org, sales); others 0.
	// No roles: teams of carol/dave/erin (sales, emea) + mapping.
	b = series{}
	b.add("revenue_won", "90d", "", "", f(6400.5), 5, nil, higher, f(300))
	b.add("revenue_won", "90d", "sales", "", f(3150.5), 2, nil, higher, f(300))
	b.add("revenue_won", "90d", "emea", "", f(0), 1, nil, higher, f(0))
	b.add("revenue_won", "90d", "partners", "", f(3000), 1, nil, higher, f(0))
	b.add("revenue_won", "90d", "apac", "", f(0), 0, nil, higher, f(0))
	want["revenue_won"] = b

	// pipeline_created — every deal's amount (0 if empty) at createdate,
	// sum per month over 90d (÷ 3), target 2000:
	//   dave: 2001 Jan1 1650, 2002 Feb1 1500.5, 2004 Jan10 800,
	//         2005 Feb25 2000                   = 5950.5 (4) -> 1983.5
	//   erin: 2003 Dec20 "" -> 0                = 0 (1)
	//   202: 2006 Jan15 3000, 2010 Jan5 (none) -> 0 = 3000 (2) -> 1000
	//   203: 2009 Feb26 250                     (1)
	//   2007 (Oct 20), 2008 (Nov 25): created before the window.
	//   org 9200.5 (8) -> 3066.833…
	b = series{}
	b.add("pipeline_created", "90d", "", "", f(9200.5/3), 8, f(2000), higher, nil)
	b.add("pipeline_created", "90d", "sales", "", f(1983.5), 4, f(2000), higher, nil)
	b.add("pipeline_created", "90d", "emea", "", f(0), 1, f(2000), higher, nil)
	b.add("pipeline_created", "90d", "partners", "", f(1000), 2, f(2000), higher, nil)
	b.add("pipeline_created", "90d", "apac", "", f(0), 0, f(2000), higher, nil)
	want["pipeline_created"] = b

	// pipeline_default — the same, filter pipeline=default, plain sum:
	//   2001 1650 + 2002 1500.5 + 2004 800 + 2005 2000 + 2009 250 = 6200.5 (5)
	b = series{}
	b.add("pipeline_default", "90d", "", "", f(6200.5), 5, nil, higher, nil)
	want["pipeline_default"] = b
	return want
}

// ---------------------------------------------------------------------------
// The test.

func TestHubSpot(t *testing.T) {
	// The first search is refused with HubSpot's SECONDLY 429 (the
	// per-second search limit is shared by every integration of the
	// portal): kpid must wait and retry (§3), not fail the run.
	fk := &fake{meetings: meetings, deals: deals, owners: owners, pageSize: 5, throttle: true}
	up := httptest.NewServer(fk)
	t.Cleanup(up.Close)

	d := blackbox.Start(t, config(up.URL), now)
	m := d.WaitSynced(t, "hs")

	if v := m.Value("kpid_connector_up", "connector", "hs"); v != 1 {
		t.Errorf("kpid_connector_up = %v, want 1", v)
	}
	// Self-metrics (§5.3): the 429 counted as a request and a rate-limited
	// retry; 3 owner pages + 5 search pages answered 200; the budgets of the
	// owners answers exposed as burst and daily.
	for _, c := range []struct {
		name string
		kv   []string
		want float64
	}{
		{"kpid_upstream_requests_total", []string{"connector", "hs", "code", "429"}, 1},
		{"kpid_upstream_requests_total", []string{"connector", "hs", "code", "200"}, 8},
		{"kpid_upstream_retries_total", []string{"connector", "hs", "reason", "rate_limited"}, 1},
		{"kpid_upstream_rate_limit_remaining", []string{"connector", "hs", "resource", "burst"}, 189},
		{"kpid_upstream_rate_limit_remaining", []string{"connector", "hs", "resource", "daily"}, 249990},
	} {
		if v, ok := m.Lookup(c.name, c.kv...); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.kv, v, ok, c.want)
		}
	}
	// Every stored object (13 meetings, 10 deals) was received.
	if v, ok := m.Lookup("kpid_store_records", "connector", "hs"); !ok || v != 23 {
		t.Errorf("kpid_store_records{connector=hs} = %v (present %v), want 23", v, ok)
	}

	check(t, "one sync", m, expected())

	// No undeclared owner ever appears as a label, nor frank (no hubspot
	// identity).
	for k := range m {
		for _, p := range []string{`person="frank"`, `"201"`, `"202"`, `"203"`, `"101"`, `"102"`, `"103"`} {
			if strings.HasPrefix(k, "kpi_") && strings.Contains(k, p) {
				t.Errorf("series %s names %s", k, p)
			}
		}
	}

	// The requests, as SPEC §3.3 describes them.
	fk.mu.Lock()
	defer fk.mu.Unlock()
	if fk.badAuth > 0 {
		t.Errorf("%d requests without the Bearer token", fk.badAuth)
	}
	// Owners: GET /crm/v3/owners?limit=100 (§3.3), 6 owners in pages of 2.
	if fmt.Sprint(fk.ownerLimits) != "[100 100 100]" {
		t.Errorf("owners requests with limit %v, want 3 pages with limit=100", fk.ownerLimits)
	}
	seen := map[string]int{}
	for _, s := range fk.searches {
		if len(s.FilterGroups) == 1 && len(s.FilterGroups[0].Filters) == 1 &&
			s.FilterGroups[0].Filters[0].PropertyName == "hs_lastmodifieddate" {
			seen[s.Object]++
			fl := s.FilterGroups[0].Filters[0]
			if !strings.EqualFold(fl.Operator, "GTE") {
				t.Errorf("%s search filter operator %q, want GTE", s.Object, fl.Operator)
			}
			if at, ok := parseWhen(fl.Value); !ok || at.After(now.Add(-400*24*time.Hour).Add(time.Minute)) {
				t.Errorf("%s search from %q, want the lookback (now − 400d)", s.Object, fl.Value)
			}
			if s.Limit != 200 {
				t.Errorf("%s search limit %d, want 200", s.Object, s.Limit)
			}
			var sp struct{ PropertyName, Direction string }
			if len(s.Sorts) != 1 || json.Unmarshal(s.Sorts[0], &sp) != nil ||
				sp.PropertyName != "hs_lastmodifieddate" || !strings.EqualFold(sp.Direction, "ASCENDING") {
				t.Errorf("%s search sorts %s, want hs_lastmodifieddate ASCENDING", s.Object, s.Sorts)
			}
		}
	}
	// 13 meetings in pages of 5 = 3 pages (+1 refused); 10 deals = 2 pages.
	if seen["meetings"] != 4 || seen["deals"] != 2 {
		t.Errorf("incremental searches: %v, want meetings 4 (one refused), deals 2", seen)
	}
	// Search is paced to 4 requests/s (§3.3): never 5 within a second.
	for i := 4; i < len(fk.searchedAt); i++ {
		if gap := fk.searchedAt[i].Sub(fk.searchedAt[i-4]); gap < 990*time.Millisecond {
			t.Errorf("searches %d..%d within %v: more than 4 a second", i-4, i, gap)
		}
	}
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

// ---------------------------------------------------------------------------
// Re-sync: meeting_attribution creator, meeting_excluded_outcomes
// [CANCELED], and a second sync that reads objects modified inside the
// overlap before the cursor (HubSpot's search index lags behind writes),
// whose samples replace the old ones (§4: "never add to them").

// withCreator sets a meeting's hs_created_by_user_id.
func withCreator(o object, user string) object {
	o.Props["hs_created_by_user_id"] = user
	return o
}

// Phase 1 meetings (owner = hubspot_owner_id; creator = user -> owner):
//
//	id   owner creator        outcome    created  start   lastmod
//	3001 102   9101 (carol)   COMPLETED  Feb 10   Feb 12  Feb 12
//	3002 102   9101 (carol)   NO_SHOW    Feb 11   Feb 13  Feb 13
//	3003 101   9102 (dave)    CANCELED   Feb 14   Feb 20  Feb 15
//	3004 102   9201 (201)     SCHEDULED  Feb 20   Mar 05  Feb 20
//	3005 101   9999 (no owner) COMPLETED Feb 21   Feb 22  Mar 02 11:59  (the cursor)
//	3006 101   9101 (carol)   SCHEDULED  Feb 25   Mar 03  Feb 25
//	3007 102   9101 (carol)   COMPLETED  Feb 26   Mar 01  Mar 02 11:57  (not indexed yet)
//
// Phase 2: 3006 becomes COMPLETED, start moved to Feb 28 15:00, lastmod
// Mar 02 11:58 (before the cursor, within "the last few minutes"); 3007 is
// indexed.
func resyncMeetings(phase int) []object {
	m6 := meeting("3006", "101", "SCHEDULED", "2026-02-25T09:00:00.000Z", "2026-03-03T15:00:00.000Z", "", "2026-02-25T09:00:00.000Z")
	if phase == 2 {
		m6 = meeting("3006", "101", "COMPLETED", "2026-02-25T09:00:00.000Z", "2026-02-28T15:00:00.000Z", "", "2026-03-02T11:58:00.000Z")
	}
	return []object{
		withCreator(meeting("3001", "102", "COMPLETED", "2026-02-10T09:00:00.000Z", "2026-02-12T15:00:00.000Z", "", "2026-02-12T16:00:00.000Z"), "9101"),
		withCreator(meeting("3002", "102", "NO_SHOW", "2026-02-11T09:00:00.000Z", "2026-02-13T15:00:00.000Z", "", "2026-02-13T16:00:00.000Z"), "9101"),
		withCreator(meeting("3003", "101", "CANCELED", "2026-02-14T09:00:00.000Z", "2026-02-20T15:00:00.000Z", "", "2026-02-15T10:00:00.000Z"), "9102"),
		withCreator(meeting("3004", "102", "SCHEDULED", "2026-02-20T09:00:00.000Z", "2026-03-05T15:00:00.000Z", "", "2026-02-20T09:00:00.000Z"), "9201"),
		withCreator(meeting("3005", "101", "COMPLETED", "2026-02-21T09:00:00.000Z", "2026-02-22T15:00:00.000Z", "", "2026-03-02T11:59:00.000Z"), "9999"),
		withCreator(m6, "9101"),
		withCreator(meeting("3007", "102", "COMPLETED", "2026-02-26T09:00:00.000Z", "2026-03-01T10:00:00.000Z", "", "2026-03-02T11:57:00.000Z"), "9101"),
	}
}

// Deals (owner attribution):
//
//	id   owner  state         amount  created  closedate  lastmod
//	4001 102    won           "1000"  Jan 01   Jan 31     Jan 31
//	4002 202    open          "700"   Feb 20   Mar 20     Feb 20
//	4003 102    won           "500"   Feb 01   Feb 11     Mar 02 12:00 (= now; the cursor)
//	4004 102    won           "2000"  Jan 10   Feb 15     Feb 15
//
// Phase 2 (modified at 11:58:30 .. 11:59:30, before the cursor):
//
//	4002 reassigned to 102 and won on Mar 01, amount "900"
//	4004 reopened (hs_is_closed false, back to contractsent)
func resyncDeals(phase int) []object {
	d2 := deal("4002", "202", "default", "qualifiedtobuy", false, false, "700", "700", "2026-02-20T00:00:00.000Z", "2026-03-20T00:00:00.000Z", "2026-02-20T01:00:00.000Z")
	d4 := deal("4004", "102", "default", "closedwon", true, true, "2000", "2000", "2026-01-10T00:00:00.000Z", "2026-02-15T00:00:00.000Z", "2026-02-15T01:00:00.000Z")
	if phase == 2 {
		d2 = deal("4002", "102", "default", "closedwon", true, true, "900", "900", "2026-02-20T00:00:00.000Z", "2026-03-01T00:00:00.000Z", "2026-03-02T11:59:30.000Z")
		d4 = deal("4004", "102", "default", "contractsent", false, false, "2000", "2000", "2026-01-10T00:00:00.000Z", "2026-03-31T00:00:00.000Z", "2026-03-02T11:58:30.000Z")
	}
	return []object{
		deal("4001", "102", "default", "closedwon", true, true, "1000", "1000", "2026-01-01T00:00:00.000Z", "2026-01-31T00:00:00.000Z", "2026-01-31T01:00:00.000Z"),
		d2,
		deal("4003", "102", "default", "closedwon", true, true, "500", "500", "2026-02-01T00:00:00.000Z", "2026-02-11T00:00:00.000Z", "2026-03-02T12:00:00.000Z"),
		d4,
	}
}

func resyncConfig(baseURL string) string {
	return `
people:
  - {id: carol, team: sales, roles: [sdr], hubspot: "101"}
  - {id: dave, team: closers, roles: [ae], hubspot: "102"}
  - {id: zed, hubspot: "201"}
connectors:
  - name: hs
    type: hubspot
    schedule: "@every 1s"
    base_url: ` + baseURL + `
    token: ` + token + `
    lookback: 120d
    meeting_attribution: creator
    meeting_excluded_outcomes: [CANCELED]
    teams: {"42": sales, "77": partners}
kpis:
  - {id: booked, measure: hubspot_meetings_booked, stat: count, window: 28d, scope: [org, team, person]}
  - {id: held, measure: hubspot_meetings_held, stat: count, window: 28d, scope: [org, team, person]}
  - {id: show, measure: hubspot_meeting_show, stat: mean, window: 28d, scope: [org, team, person]}
  - {id: won, measure: hubspot_deals_won, stat: count, window: 90d, scope: [org, team, person]}
  - {id: revenue, measure: hubspot_deals_won_amount, stat: sum, window: 90d, scope: [org, team, person]}
  - {id: pipeline, measure: hubspot_pipeline_created_amount, stat: sum, window: 90d, scope: [org, team, person]}
  - {id: cycle, measure: hubspot_sales_cycle_seconds, stat: p50, window: 90d, scope: [org, team, person]}
`
}

// resyncExpected: the scopes of every KPI are org; teams sales (carol's,
// mapping 42), closers (dave's), partners (mapping 77); people carol
// (sales), dave (closers) and zed — all have a hubspot id and no KPI lists
// roles. zed (owner 201) is declared without a team: his samples take the
// connector's mapping of his HubSpot team (42 -> sales, §4 "that person's
// team, else the connector's teams mapping"), and his person series carry
// no team label (§5.2 "the person's team on person series").
func resyncExpected(phase int) map[string]series {
	want := map[string]series{}
	type row struct {
		team, person string
		v            *float64
		n            int
	}
	put := func(id, window string, rows ...row) {
		s := series{}
		// zed: 3004 (created by user 9201, Feb 20) is his booked meeting,
		// in both phases; nothing else.
		switch id {
		case "booked":
			rows = append(rows, row{"", "zed", f(1), 1})
		case "show", "cycle":
			rows = append(rows, row{"", "zed", nil, 0})
		default:
			rows = append(rows, row{"", "zed", f(0), 0})
		}
		for _, r := range rows {
			s.add(id, window, r.team, r.person, r.v, r.n, nil, true, nil)
		}
		want[id] = s
	}
	if phase == 1 {
		// booked, by creator, CANCELED excluded (NO_SHOW counts here), at
		// hs_createdate: 3001 carol, 3002 carol (NO_SHOW), 3004 201 (team
		// 42 -> sales), 3005 creator 9999 is no owner (org only, although
		// its owner is carol), 3006 carol. 3003 CANCELED. 3007 not indexed.
		// org 5; carol 3; sales 3 + 1 = 4; dave/closers 0.
		put("booked", "28d",
			row{"", "", f(5), 5}, row{"sales", "", f(4), 4}, row{"closers", "", f(0), 0}, row{"partners", "", f(0), 0},
			row{"sales", "carol", f(3), 3}, row{"closers", "dave", f(0), 0})
		// held (COMPLETED at start): 3001 carol Feb 12, 3005 org Feb 22.
		put("held", "28d",
			row{"", "", f(2), 2}, row{"sales", "", f(1), 1}, row{"closers", "", f(0), 0}, row{"partners", "", f(0), 0},
			row{"sales", "carol", f(1), 1}, row{"closers", "dave", f(0), 0})
		// show: 3001 1 (carol), 3002 0 (carol), 3005 1 (org):
		// org 2/3, carol 1/2, sales 1/2; no value elsewhere.
		put("show", "28d",
			row{"", "", f(2.0 / 3), 3}, row{"sales", "", f(0.5), 2}, row{"closers", "", nil, 0}, row{"partners", "", nil, 0},
			row{"sales", "carol", f(0.5), 2}, row{"closers", "dave", nil, 0})
		// won (closedate in (Dec 2 12:00, Mar 2 12:00]): 4001, 4003, 4004,
		// all dave's.
		put("won", "90d",
			row{"", "", f(3), 3}, row{"sales", "", f(0), 0}, row{"closers", "", f(3), 3}, row{"partners", "", f(0), 0},
			row{"sales", "carol", f(0), 0}, row{"closers", "dave", f(3), 3})
		// revenue: 1000 + 500 + 2000 = 3500.
		put("revenue", "90d",
			row{"", "", f(3500), 3}, row{"sales", "", f(0), 0}, row{"closers", "", f(3500), 3}, row{"partners", "", f(0), 0},
			row{"sales", "carol", f(0), 0}, row{"closers", "dave", f(3500), 3})
		// pipeline (createdate): 4001 1000, 4002 700 (202 -> partners),
		// 4003 500, 4004 2000: org 4200, closers 3500, partners 700.
		put("pipeline", "90d",
			row{"", "", f(4200), 4}, row{"sales", "", f(0), 0}, row{"closers", "", f(3500), 3}, row{"partners", "", f(700), 1},
			row{"sales", "carol", f(0), 0}, row{"closers", "dave", f(3500), 3})
		// cycle: 4001 30d, 4003 10d, 4004 Jan 10 -> Feb 15 = 21 + 15 = 36d;
		// p50 of [10d, 30d, 36d] = 30d.
		put("cycle", "90d",
			row{"", "", f(30 * day), 3}, row{"sales", "", nil, 0}, row{"closers", "", f(30 * day), 3}, row{"partners", "", nil, 0},
			row{"sales", "carol", nil, 0}, row{"closers", "dave", f(30 * day), 3})
		return want
	}
	// Phase 2.
	// booked: 3006 still booked once (replaced, not added); 3007 (carol,
	// Feb 26) now read: org 6, carol 4, sales 5.
	put("booked", "28d",
		row{"", "", f(6), 6}, row{"sales", "", f(5), 5}, row{"closers", "", f(0), 0}, row{"partners", "", f(0), 0},
		row{"sales", "carol", f(4), 4}, row{"closers", "dave", f(0), 0})
	// held: + 3006 (Feb 28) + 3007 (Mar 1), both carol's: org 4, carol 3.
	put("held", "28d",
		row{"", "", f(4), 4}, row{"sales", "", f(3), 3}, row{"closers", "", f(0), 0}, row{"partners", "", f(0), 0},
		row{"sales", "carol", f(3), 3}, row{"closers", "dave", f(0), 0})
	// show: carol 1, 0, 1, 1 = 3/4; org + 3005's 1 = 4/5.
	put("show", "28d",
		row{"", "", f(0.8), 5}, row{"sales", "", f(0.75), 4}, row{"closers", "", nil, 0}, row{"partners", "", nil, 0},
		row{"sales", "carol", f(0.75), 4}, row{"closers", "dave", nil, 0})
	// won: 4001, 4003, 4002 (Mar 1, now dave's); 4004 reopened: gone.
	put("won", "90d",
		row{"", "", f(3), 3}, row{"sales", "", f(0), 0}, row{"closers", "", f(3), 3}, row{"partners", "", f(0), 0},
		row{"sales", "carol", f(0), 0}, row{"closers", "dave", f(3), 3})
	// revenue: 1000 + 500 + 900 = 2400.
	put("revenue", "90d",
		row{"", "", f(2400), 3}, row{"sales", "", f(0), 0}, row{"closers", "", f(2400), 3}, row{"partners", "", f(0), 0},
		row{"sales", "carol", f(0), 0}, row{"closers", "dave", f(2400), 3})
	// pipeline: 4001 1000, 4002 900 (now dave's), 4003 500, 4004 2000 (still
	// created in the window): org 4400 = closers; partners 0 (no sample).
	put("pipeline", "90d",
		row{"", "", f(4400), 4}, row{"sales", "", f(0), 0}, row{"closers", "", f(4400), 4}, row{"partners", "", f(0), 0},
		row{"sales", "carol", f(0), 0}, row{"closers", "dave", f(4400), 4})
	// cycle: 4001 30d, 4003 10d, 4002 Feb 20 -> Mar 1 = 9d (Feb 2026 has
	// 28 days); p50 of [9d, 10d, 30d] = 10d.
	put("cycle", "90d",
		row{"", "", f(10 * day), 3}, row{"sales", "", nil, 0}, row{"closers", "", f(10 * day), 3}, row{"partners", "", nil, 0},
		row{"sales", "carol", nil, 0}, row{"closers", "dave", f(10 * day), 3})
	return want
}

func TestHubSpotResync(t *testing.T) {
	fk := &fake{
		meetings: resyncMeetings(1), deals: resyncDeals(1), owners: owners, pageSize: 200,
		lagging: map[string]bool{"3007": true},
	}
	up := httptest.NewServer(fk)
	t.Cleanup(up.Close)

	d := blackbox.Start(t, resyncConfig(up.URL), now)
	m := d.WaitSynced(t, "hs")
	check(t, "phase 1", m, resyncExpected(1))

	// HubSpot changes; the index catches up.
	fk.mu.Lock()
	fk.meetings, fk.deals, fk.lagging = resyncMeetings(2), resyncDeals(2), nil
	fk.mu.Unlock()
	// A sync may be running: wait for two more, the second of which started
	// after the change.
	c := d.Scrape(t).Value("kpid_connector_syncs_total", "connector", "hs", "result", "success")
	deadline := time.Now().Add(20 * time.Second)
	for {
		m = d.Scrape(t)
		if m.Value("kpid_connector_syncs_total", "connector", "hs", "result", "success") >= c+2 {
			break
		}
		if m.Value("kpid_connector_syncs_total", "connector", "hs", "result", "error") > 0 || time.Now().After(deadline) {
			t.Fatalf("no second sync after the change:\n%s", d.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	check(t, "phase 2", m, resyncExpected(2))
	// Re-reads upserted the same objects: 7 meetings and 4 deals stored.
	if v := m.Value("kpid_store_records", "connector", "hs"); v != 11 {
		t.Errorf("kpid_store_records = %v, want 11", v)
	}
}

// check compares every KPI's whole set of kpi_* series.
func check(t *testing.T, phase string, m blackbox.Metrics, want map[string]series) {
	t.Helper()
	for id, w := range want {
		got := m.KPI(id)
		for k, wv := range w {
			g, ok := got[k]
			switch {
			case !ok:
				t.Errorf("%s: %s: missing %s (want %v)", phase, id, k, wv)
			case !near(g, wv):
				t.Errorf("%s: %s: %s = %v, want %v", phase, id, k, g, wv)
			}
		}
		for k, g := range got {
			if _, ok := w[k]; !ok {
				t.Errorf("%s: %s: unexpected series %s = %v", phase, id, k, g)
			}
		}
	}
}

// TestHubSpotBadToken: a rejected token (401) ends the run with an error, is
// not retried until the next run (§8), and the token appears in no log.
func TestHubSpotBadToken(t *testing.T) {
	fk := &fake{meetings: meetings, deals: deals, owners: owners, pageSize: 200}
	up := httptest.NewServer(fk)
	t.Cleanup(up.Close)
	const wrong = "pat-na1-wrong-token-0123456789"
	cfg := strings.Replace(resyncConfig(up.URL), "token: "+token, "token: "+wrong, 1)
	cfg = strings.Replace(cfg, `"@every 1s"`, `"@every 1h"`, 1)
	d := blackbox.Start(t, cfg, now)
	deadline := time.Now().Add(20 * time.Second)
	var m blackbox.Metrics
	for {
		m = d.Scrape(t)
		if m.Value("kpid_connector_syncs_total", "connector", "hs", "result", "error") >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sync did not fail:\n%s", d.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, ok := m.Lookup("kpid_connector_up", "connector", "hs"); !ok || v != 0 {
		t.Errorf("kpid_connector_up = %v (present %v), want 0", v, ok)
	}
	if v := m.Value("kpid_upstream_requests_total", "connector", "hs", "code", "401"); v != 1 {
		t.Errorf("kpid_upstream_requests_total{code=401} = %v, want 1", v)
	}
	fk.mu.Lock()
	bad := fk.badAuth
	fk.mu.Unlock()
	if bad != 1 {
		t.Errorf("the fake saw %d unauthorised requests, want 1 (no retry of a 401)", bad)
	}
	// kpid counts the failed sync before it logs it: wait for the line.
	for !strings.Contains(d.Log(), "sync failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no \"sync failed\" line in the log:\n%s", d.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if log := d.Log(); strings.Contains(log, wrong) {
		t.Errorf("the token appears in the log")
	} else if !strings.Contains(strings.ToLower(log), "credential") {
		t.Errorf("the log does not report a credentials problem:\n%s", log)
	}
}
