package zendesk

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// specLiteralSearch wraps the simulator (which, like Zendesk's reference,
// rejects a "type:" term in the search query) as an upstream that wants the
// query as SPEC §3.2 writes it ("type:ticket status<solved") and answers 400
// to any other.
type specLiteralSearch struct {
	next http.Handler

	mu      sync.Mutex
	queries []string
}

func (s *specLiteralSearch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.TrimSuffix(r.URL.Path, ".json") != "/api/v2/search/export" {
		s.next.ServeHTTP(w, r)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	s.queries = append(s.queries, q.Get("query"))
	s.mu.Unlock()
	rest, ok := strings.CutPrefix(q.Get("query"), "type:ticket ")
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"InvalidParameter","description":"query must start with type:ticket"}`))
		return
	}
	q.Set("query", rest)
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = q.Encode()
	s.next.ServeHTTP(w, r2)
}

func (s *specLiteralSearch) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.queries
	s.queries = nil
	return out
}

// The open tickets are listed with "status<solved" (the reference: a type
// term in the query is an error); an upstream that rejects that query with
// 400 gets SPEC's "type:ticket status<solved" instead, once, and the
// connector keeps using it.
func TestBacklogQueryFallsBackToSpecForm(t *testing.T) {
	e := newEnv(t, nil)
	up := &specLiteralSearch{next: e.sim}
	e.serve(up)
	st := newMemStore()
	e.mustSync(st, false)

	if got := up.take(); len(got) != 2 || got[0] != openQuery || got[1] != specOpenQuery {
		t.Errorf("first sync queries = %q, want %q then %q", got, openQuery, specOpenQuery)
	}
	if got, want := st.ids(KindOpenTicket), e.openTickets(); !equalStrings(got, want) || len(want) == 0 {
		t.Errorf("open tickets = %v, want %v", got, want)
	}
	if !strings.Contains(e.log.String(), "trying its other form") {
		t.Errorf("the fallback was not logged:\n%s", e.log.String())
	}
	// Every request is counted, the rejected one included.
	searchPages := 0
	for _, p := range st.pages {
		if p.Stream == StreamOpenTickets {
			searchPages += p.Requests
		}
	}
	if searchPages != 2 {
		t.Errorf("open tickets pages report %d requests, want 2 (one rejected, one page)", searchPages)
	}

	// The next run goes straight to the form that worked.
	e.clk.Advance(10 * time.Minute)
	e.mustSync(st, false)
	if got := up.take(); len(got) != 1 || got[0] != specOpenQuery {
		t.Errorf("second sync queries = %q, want only %q", got, specOpenQuery)
	}
}

// Against Zendesk (the simulator), the query is never rejected and never
// sent twice.
func TestBacklogQueryNoFallbackAgainstZendesk(t *testing.T) {
	e := newEnv(t, nil)
	var mu sync.Mutex
	var queries []string
	e.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v2/search/export") {
			mu.Lock()
			queries = append(queries, r.URL.Query().Get("query"))
			mu.Unlock()
		}
		e.sim.ServeHTTP(w, r)
	}))
	st := newMemStore()
	e.mustSync(st, false)
	if len(queries) != 1 || queries[0] != openQuery {
		t.Errorf("queries = %q, want one %q", queries, openQuery)
	}
}

// A query rejected in both forms ends the run with an error naming the
// endpoint and the status.
func TestBacklogQueryRejectedInBothForms(t *testing.T) {
	e := newEnv(t, nil)
	calls := 0
	e.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v2/search/export") {
			calls++
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"error":"InvalidQuery"}`))
			return
		}
		e.sim.ServeHTTP(w, r)
	}))
	err := e.sync(newMemStore(), false)
	if err == nil || !strings.Contains(err.Error(), "/api/v2/search/export") || !strings.Contains(err.Error(), "422") {
		t.Fatalf("sync error = %v, want the search export's 422", err)
	}
	if calls != 2 {
		t.Errorf("search export requests = %d, want 2 (each form once)", calls)
	}
}
