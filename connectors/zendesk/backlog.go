package zendesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kpid/kpid/connectors"
	"github.com/kpid/kpid/internal/httpclient"
)

const (
	searchExportPath = "/search/export"
	// openQuery finds new, open, pending and on-hold tickets. The object
	// type is given in filter[type]: the Export Search Results reference
	// says a "type:" term in the query is an error.
	openQuery = "status<solved"
	// specOpenQuery is the query as SPEC §3.2 writes it. It is sent only
	// when the account rejects openQuery (400 or 422 on the first page),
	// and then kept for the connector's later runs: whichever of the two
	// the upstream takes, the backlog is listed, and Zendesk (which takes
	// openQuery) never costs an extra request.
	specOpenQuery = "type:ticket " + openQuery
)

// errQueryRejected marks a search export answer of 400 or 422: the query
// was not accepted.
var errQueryRejected = errors.New("search query rejected")

// searchURL is the first page of the open tickets listing with query q.
func (c *Connector) searchURL(q string) string {
	v := url.Values{
		"query":        {q},
		"filter[type]": {"ticket"},
		"page[size]":   {strconv.Itoa(searchPageSize)},
	}
	return c.apiRoot + searchExportPath + "?" + v.Encode()
}

// openTicketsQuery is the query the listing uses: openQuery, or
// specOpenQuery once the account has rejected openQuery.
func (c *Connector) openTicketsQuery() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.specQuery {
		return specOpenQuery
	}
	return openQuery
}

// isOpen reports whether a status counts in the backlog.
func isOpen(status string) bool {
	switch status {
	case "new", "open", "pending", "hold":
		return true
	}
	return false
}

// syncBacklog lists every open ticket into "open_ticket" records, stamped
// with the listing time, and prunes the open tickets of the previous listing
// that are no longer open. The stream keeps no cursor: the listing is
// complete on every run.
func (c *Connector) syncBacklog(ctx context.Context, emit connectors.EmitFunc) error {
	listedAt := c.now().UTC()
	keep := map[string]struct{}{}
	query := c.openTicketsQuery()
	next := c.searchURL(query)
	requests, switched := 0, false
	for page := 1; ; page++ {
		requests++
		resp, err := c.searchPage(ctx, page, next)
		if page == 1 && !switched && errors.Is(err, errQueryRejected) {
			// The other form of the query, once (see specOpenQuery).
			switched = true
			other := specOpenQuery
			if query == specOpenQuery {
				other = openQuery
			}
			c.log.Warn("zendesk rejected the open tickets query; trying its other form",
				"endpoint", "/api/v2"+searchExportPath, "query", query, "retry_query", other, "err", err)
			query, next = other, c.searchURL(other)
			page--
			continue
		}
		if err != nil {
			return err
		}
		if page == 1 {
			c.mu.Lock()
			c.specQuery = query == specOpenQuery
			c.mu.Unlock()
		}
		records := make([]connectors.Record, 0, len(resp.Results))
		for _, t := range resp.Results {
			if !t.ID.Valid {
				c.log.Warn("zendesk search export returned a ticket without an id; skipped", "endpoint", searchExportPath)
				continue
			}
			if !isOpen(t.Status) {
				continue // the search index lags behind a status change
			}
			id := strconv.FormatInt(t.ID.V, 10)
			d := openTicketRecord{ID: t.ID.V, Status: t.Status, ListedAt: listedAt}
			if t.Priority != nil {
				d.Priority = *t.Priority
			}
			if t.AssigneeID.Valid {
				d.AssigneeID = t.AssigneeID.V
			}
			if t.GroupID.Valid {
				d.GroupID = t.GroupID.V
			}
			data, _ := json.Marshal(d) // plain struct: cannot fail
			records = append(records, connectors.Record{Kind: KindOpenTicket, ID: id, Updated: listedAt, Data: data})
			keep[id] = struct{}{}
		}
		p := connectors.Page{Stream: StreamOpenTickets, Records: records, Requests: requests}
		requests = 0
		more := resp.Meta.HasMore
		if more {
			if next, err = c.nextSearchURL(resp, next); err != nil {
				return fmt.Errorf("fetch zendesk open tickets page %d: %w", page, err)
			}
		} else {
			p.Prune = &connectors.Prune{Kind: KindOpenTicket, Keep: keep}
		}
		if err := emit(ctx, p); err != nil {
			return fmt.Errorf("commit zendesk open tickets page %d: %w", page, err)
		}
		if !more {
			c.log.Debug("zendesk open tickets listed", "stream", StreamOpenTickets, "open", len(keep), "pages", page)
			return nil
		}
	}
}

// nextSearchURL follows links.next when it points at the configured API
// host (credentials are never sent elsewhere), else builds the next page
// from meta.after_cursor.
func (c *Connector) nextSearchURL(resp *searchExportResponse, current string) (string, error) {
	root, err := url.Parse(c.apiRoot)
	if err != nil {
		return "", err
	}
	if resp.Links.Next != nil && *resp.Links.Next != "" {
		n, err := url.Parse(*resp.Links.Next)
		if err == nil && n.Scheme == root.Scheme && n.Host == root.Host && *resp.Links.Next != current {
			return *resp.Links.Next, nil
		}
	}
	if resp.Meta.AfterCursor == "" {
		return "", fmt.Errorf("has_more is true but there is neither a usable links.next nor a meta.after_cursor")
	}
	query := openQuery // the query of the current page
	if cu, err := url.Parse(current); err == nil && cu.Query().Get("query") != "" {
		query = cu.Query().Get("query")
	}
	q := url.Values{
		"query":        {query},
		"filter[type]": {"ticket"},
		"page[size]":   {strconv.Itoa(searchPageSize)},
		"page[after]":  {resp.Meta.AfterCursor},
	}
	n := c.apiRoot + searchExportPath + "?" + q.Encode()
	if n == current {
		return "", fmt.Errorf("search export did not advance")
	}
	return n, nil
}

func (c *Connector) searchPage(ctx context.Context, page int, u string) (*searchExportResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch zendesk open tickets page %d: %w", page, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch zendesk open tickets page %d: %w", page, httpclient.Redact(err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return nil, fmt.Errorf("fetch zendesk open tickets page %d: GET %s: status %d: %s: %w", page, "/api/v2"+searchExportPath, resp.StatusCode, readExcerpt(resp.Body), errQueryRejected)
	default:
		return nil, fmt.Errorf("fetch zendesk open tickets page %d: GET %s: unexpected status %d: %s", page, "/api/v2"+searchExportPath, resp.StatusCode, readExcerpt(resp.Body))
	}
	var out searchExportResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("zendesk connector %s: decode %s page %d: %w", c.cfg.Name, "/api/v2"+searchExportPath, page, err)
	}
	return &out, nil
}
