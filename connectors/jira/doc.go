// Package jira is the Jira connector (SPEC §3.4): it pulls issues with
// their status history from Jira Cloud or Jira Data Center, lists the
// issues in progress on every run, and derives the jira_* measures
// (SPEC §4.1): jira_issues_done, jira_cycle_time_seconds,
// jira_lead_time_seconds, jira_done_on_time, jira_issue_reopened and the
// jira_wip snapshot.
//
// # Endpoints
//
// Paths are relative to base_url; Cloud uses /rest/api/3, Data Center
// (flavor: datacenter) /rest/api/2. Each was checked against Atlassian's
// reference ("The Jira Cloud platform REST API", groups "Issue search",
// "Issues", "Workflow statuses", "Issue fields", "Myself", "User search";
// "Jira Data Center REST API" for /rest/api/2).
//
//   - POST /rest/api/3/search/jql (Cloud, "Search for issues using JQL
//     enhanced search (POST)"): body {jql, fields, expand: "changelog",
//     maxResults: 100, nextPageToken}; answer {issues, nextPageToken,
//     isLast}. The JQL must be bounded; expand is a comma-separated
//     string; the embedded changelog lists the most recent histories,
//     newest first, with total > len(histories) when truncated. The old
//     GET/POST /rest/api/3/search answers 410 Gone since 2025 (CHANGE-2046):
//     reported as such, with a hint to use flavor cloud.
//   - POST /rest/api/2/search (Data Center, "Search for issues using JQL
//     (POST)"): body {jql, startAt, maxResults, fields, expand:
//     ["changelog"]}; answer {startAt, maxResults, total, issues}.
//   - POST /rest/api/3/changelog/bulkfetch (Cloud, "Bulk fetch
//     changelogs"): body {issueIdsOrKeys (up to 1000), fieldIds:
//     ["status"], maxResults, nextPageToken}; answer {issueChangeLogs:
//     [{issueId, changeHistories}], nextPageToken}. Used only for issues
//     whose embedded changelog is truncated.
//   - GET /rest/api/2/issue/{key}/changelog?startAt=&maxResults=100 (Data
//     Center, "Get changelogs"): answer {startAt, maxResults, total,
//     isLast, values}, oldest first. A server without it (404) is read with
//     GET /rest/api/2/issue/{key}?fields=status&expand=changelog.
//   - GET /rest/api/{3,2}/status ("Get all statuses"): id, name and
//     statusCategory.key (new, indeterminate, done) of every status.
//   - GET /rest/api/{3,2}/field ("Get fields"): id, name, schema.type;
//     resolves points_field given by name. Only with points_field.
//   - GET /rest/api/{3,2}/myself ("Get current user"): timeZone, the zone
//     Jira reads JQL times in, so always asked (the timezone option sets
//     the zone of due dates; the JQL bound is written in whichever of the
//     two zones shows the earlier clock, so that it holds in both).
//   - GET /rest/api/{3,2}/mypermissions?permissions=BROWSE_PROJECTS,USER_PICKER
//     ("Get my permissions"), then ?permissions=BROWSE_PROJECTS&projectKey=K
//     for each project the JQL names (else each project of `teams`):
//     `kpid validate --online` only, with one search of one id to check
//     the JQL. In the global context a project permission means "in at
//     least one project"; a project the user cannot see answers 404.
//   - GET /rest/api/3/user/search?query=EMAIL (Cloud) and
//     GET /rest/api/2/user/search?username=EMAIL (Data Center) ("Find
//     users"): resolves people declared by email to an accountId (Cloud)
//     or a user name (Data Center).
//
// Issue fields read: status (id, name, statusCategory.key), assignee
// (accountId on Cloud, name on Data Center), project (key), issuetype
// (name), created, updated, resolutiondate, duedate, and the points field.
// Changelog items read: those whose fieldId (or field) is "status", with
// from/to (status ids) and fromString/toString (names at the time).
// Times are read as Jira writes them ("2020-06-12T08:13:13.360+0800").
//
// Status look-ups (/status, /field, /myself) are cached and refreshed at
// most hourly.
//
// # Streams and cursors
//
// "issues": the JQL `(<jql>) AND updated >= 'yyyy/MM/dd HH:mm' ORDER BY
// updated ASC`, in the API user's time zone (else `timezone`), from the
// cursor minus a 5-minute overlap; the cursor (see issuesCursor) keeps the
// newest updated committed and the ids+updated of the overlap window, so
// re-read issues are skipped and a crash resumes at the last committed
// page. A nextPageToken Jira refuses (a 400: tokens expire) restarts the
// search once from the cursor's time, within the same run. A full sync
// starts at now − lookback.
//
// "wip": every run, `(<jql>) AND statusCategory = "In Progress"` (or
// `status in (...)` with in_progress_statuses) through the same search,
// as records of kind "open_issue"; the last page prunes those no longer
// listed.
//
// "reconcile": every `reconcile` (default 24h), the ids the JQL returns
// (fields: id; Cloud pages of up to 5000, Data Center 1000); stored issues
// not among them (deleted, moved to a project outside the JQL) are deleted
// with their samples. A listing with no issue at all prunes nothing: a lost
// permission looks the same, and erasing the history would be worse.
//
// # Rate limits
//
// Jira Cloud limits API-token traffic per endpoint and method, per second
// ("jira-burst-based"): every answer carries X-RateLimit-Limit and
// X-RateLimit-Remaining, a 429 adds Retry-After, X-RateLimit-Reset and
// RateLimit-Reason. Jira Data Center's optional rate limiting is a token
// bucket per user: X-RateLimit-Limit, X-RateLimit-Remaining,
// X-RateLimit-Interval-Seconds, X-RateLimit-FillRate and Retry-After. With
// min_remaining, a budget at or below it holds the next request back (see
// rateLimits): one second on Cloud, enough intervals to refill above the
// floor on Data Center.
//
// # Credentials
//
// Cloud: basic auth with email and an API token
// (https://id.atlassian.com/manage-profile/security/api-tokens). Data
// Center: a personal access token, sent as "Authorization: Bearer". The
// account needs the "Browse projects" permission on the projects of the
// JQL (issue-level security permission where configured) and, to resolve
// people declared by email, the "Browse users and groups" global
// permission. Everything kpid does is read-only.
//
// # Measures
//
// An issue is done when its current status is a done status (category
// done, or one of done_statuses). Its done time is resolutiondate when
// set, else the last time it entered the done statuses from outside them
// (or its creation, when it was created done). Cycle time runs from the
// first entry into an in-progress status (category indeterminate, or one
// of in_progress_statuses); lead time from created. A done issue weighs
// its points with a points_field (1 when it has no value), else 1.
// Done on time compares the done time with the end of the due date in
// `timezone`, else the API user's zone, else UTC. Reopened is 1 when the
// issue ever moved from a done status to a status that is not done.
// Statuses of the history are matched by id (so renamed and translated
// statuses still count), by name when the history has no id. Samples
// carry the assignee as actor, the project key as team key, and the labels
// project and issue_type.
package jira
