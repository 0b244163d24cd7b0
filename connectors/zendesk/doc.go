// Package zendesk is kpid's Zendesk Support connector (SPEC §3.2): it reads
// tickets with their metric sets through the cursor-based incremental ticket
// export, lists the open tickets for the backlog snapshot, and derives the
// zendesk_* measures of SPEC §4.1.
//
// # Endpoints
//
// The API root is base_url + "/api/v2". Every request authenticates with an
// API token: HTTP basic auth "{email}/token:{token}" ("Security and
// authentication" in the API reference).
//
// Incremental ticket export, cursor based ("Incremental Exports" reference,
// "Incremental Ticket Export, Cursor Based"; guide "Using the Incremental
// Exports API"):
//
//	GET /api/v2/incremental/tickets/cursor.json?start_time={unix}&include=metric_sets
//	GET /api/v2/incremental/tickets/cursor.json?cursor={after_cursor}&include=metric_sets
//
// Parameters and fields:
//   - start_time: Unix epoch seconds, only on the initial request; it must be
//     more than a minute in the past (the export withholds the most recent
//     minute). kpid uses now − lookback.
//   - cursor: "used to fetch the next page of results or to make the next
//     export". kpid stores the last page's after_cursor and resumes every later
//     sync from it, so a quiet sync costs one request.
//   - per_page: default and maximum 1,000 (kpid uses the default).
//   - include=metric_sets: side-loads the ticket metric sets as a top-level
//     "metric_sets" array whose items carry ticket_id ("Side-loading").
//   - exclude_deleted is not sent by the tickets stream: deleted tickets
//     come through it with status "deleted", which is how kpid removes their
//     samples. The reconcile listing sends exclude_deleted=true.
//   - Response fields used: tickets[], metric_sets[], after_cursor,
//     end_of_stream ("true if the current request has returned all the
//     results up to the current time"); after_url, before_cursor and
//     before_url are not needed.
//   - Ticket fields used: id, status, priority, assignee_id, group_id,
//     created_at, updated_at, generated_timestamp, satisfaction_rating.score.
//     Metric set fields used ("Ticket Metrics" reference): ticket_id,
//     solved_at, reopens, reply_time_in_minutes.{calendar,business},
//     full_resolution_time_in_minutes.{calendar,business}.
//   - Rate limit: 10 requests a minute (30 with the High Volume API add-on),
//     separate from the account limit; kpid paces itself to
//     export_requests_per_minute and honours Retry-After on a 429 ("Rate
//     limits").
//   - Allowed for: admins. The token's user must be a Zendesk admin.
//
// Export search results ("Search" reference, "Export Search Results"), on
// every run, for the backlog snapshot:
//
//	GET /api/v2/search/export?query=status<solved&filter[type]=ticket&page[size]=1000
//
// Parameters and fields:
//   - The object type goes in filter[type]; the reference says a "type:" term
//     in the query string is an error, so the query is only the status term
//     (status<solved = new, open, pending and hold). An upstream that answers
//     400 or 422 to it gets the query as SPEC §3.2 writes it,
//     "type:ticket status<solved", once; the connector then keeps the form
//     that worked, so Zendesk itself never costs an extra request.
//   - page[size] up to 1,000; cursor pagination: meta.has_more, links.next
//     (or meta.after_cursor as page[after]); a cursor expires after an hour.
//   - Results are ordered by created_at. Rate limit: 100 requests a minute.
//   - Allowed for: agents.
//
// Look-ups, through go-zendesk's client (github.com/nukosuke/go-zendesk):
//
//	GET /api/v2/users/search.json?query=email:{address}   ("Search Users")
//	GET /api/v2/groups.json?page[size]=100                ("List Groups")
//
// Use:
//   - users/search resolves a person declared by email to a user id
//     (connectors.IdentityResolver); answers are cached for an hour.
//   - groups gives the names of the groups in the teams mapping for the logs
//     (and warns about mapped groups that do not exist); refreshed at most
//     hourly. Allowed for: agents.
//
// Online check (`kpid validate --online`, connectors.Checker), one request:
//
//	GET /api/v2/users/me.json   ("Show Self")
//
// It tells who the credentials authenticate as (user.email) and their
// user.role: "admin", "agent" or "end-user". The export needs an admin;
// any other role is reported as missing ("incremental ticket export needs
// an admin user"). Show Self is allowed for anonymous users: an answer whose
// user has no id means the credentials were not taken (a credentials error).
//
// # Cursors, deletions and reconcile
//
// The "tickets" stream's cursor is the last committed page's after_cursor
// plus a fallback time and the stream's floor (see ticketCursor); each page
// is committed with the cursor that follows it. The "open_tickets" stream
// keeps no cursor: the backlog listing is complete on every run and its last
// page prunes the open tickets that are no longer open.
//
// A soft-deleted ticket comes through the export with status "deleted" and
// removes its record and samples. A ticket deleted permanently (a ticket
// deletion schedule, Delete Ticket Permanently) is not documented to come
// through the export, so every `reconcile` interval (default 24h) the
// "reconcile/tickets" stream lists the live tickets through the same
// export (start_time = the stream's floor, exclude_deleted=true: ⌈N/1000⌉
// requests, paced with the stream), waits out the minute the export
// withholds and reads the tail, then prunes the stored tickets it did not
// list. Its cursor is the time of the last pass; the first sync and a full
// sync only set it. List Tickets is not used for this: it leaves archived
// tickets out (closed for more than 120 days), which the export keeps.
//
// # Permissions
//
// An API token (Admin Center > Apps and integrations > Zendesk API) of an
// admin user: the incremental export is admin-only; search, users and
// groups need an agent.
//
// # Records and samples
//
// Records are of kind "ticket" (ID: the ticket id; every ticket the export
// returns, deleted ones as Record.Deleted) and "open_ticket" (ID: the ticket
// id; the latest listing of open tickets, pruned of tickets no longer open).
// They keep ids, statuses, priority, times, the CSAT score and the metric
// set's minutes only — never subjects, descriptions, comments, names or
// emails. See Normalize for the measures.
//
// go-zendesk's Ticket and TicketMetric types are not used for the export:
// TicketMetric decodes the minutes as plain ints, which cannot tell "no reply
// yet" (null) from a reply within the minute (0), and Ticket's custom field
// decoder panics on unexpected value types. The connector decodes into its
// own narrow types instead; go-zendesk's User, Group and
// CursorPaginationMeta are used where they fit.
package zendesk
