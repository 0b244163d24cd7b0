// Package github is the GitHub connector (SPEC §3.1): pull requests with
// their reviews, open pull requests, deployments to production environments
// with their statuses and shipped commits, and issues carrying incident or
// bug labels, read from the GitHub REST API (github.com or GitHub Enterprise
// Server) with go-github, and normalised into the github_* measures of SPEC
// §4.1.
//
// # Endpoints
//
// All requests are built by go-github ("Accept:
// application/vnd.github.v3+json", "X-GitHub-Api-Version: 2022-11-28",
// "Authorization: Bearer TOKEN") against base_url used as given (a trailing
// slash added; GitHub Enterprise Server: https://HOST/api/v3/), and page with
// per_page=100 and the Link header (rel="next", read by go-github into
// Response.NextPage).
//
//   - GET /repos/{owner}/{repo}/pulls?state=all&sort=updated&direction=desc&per_page=100&page=N
//     ("List pull requests", REST API endpoints for pull requests). Fields
//     read: number, state, draft, created_at, updated_at, closed_at,
//     merged_at, user.login, user.type. Newest update first, until
//     updated_at is older than the cursor minus 5 minutes, or the lookback
//     (an upstream that does not list in that order is read to the end,
//     its older items skipped: see newestFirst).
//     Page 1 is conditional (If-None-Match with the stored ETag): a 304
//     means no pull request changed and costs no rate limit.
//   - GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews?per_page=100
//     ("List reviews for a pull request", REST API endpoints for pull
//     request reviews), for every merged pull request whose updated_at
//     moved. Fields: user.login, user.type, state (APPROVED,
//     CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING), submitted_at.
//   - GET /repos/{owner}/{repo}/pulls?state=open&per_page=100 (same page):
//     the open pull requests for github_prs_open, conditional on page 1.
//   - GET /repos/{owner}/{repo}/deployments?environment=E&per_page=100
//     ("List deployments", REST API endpoints for deployments), newest first
//     (GitHub's order; the documentation does not state it, so a listing in
//     another order is read to the end). Fields: id, sha, environment,
//     created_at. Conditional on page 1.
//   - GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses?per_page=100
//     ("List deployment statuses", REST API endpoints for deployment
//     statuses). Fields: id, state (error, failure, inactive, in_progress,
//     queued, pending, success), created_at. The outcome is the first
//     terminal status (success, failure, error) by created_at; pending
//     deployments are re-checked conditionally on later runs.
//   - GET /repos/{owner}/{repo}/compare/{base}...{head}?per_page=100&page=N
//     ("Compare two commits", REST API endpoints for commits): commits in
//     chronological order, paginated when per_page/page are given. Fields:
//     total_commits, commits[].commit.author.date. base is the previous
//     successful deployment's sha, head the new one's; at most 1,000
//     commits are read (truncations counted).
//   - GET /repos/{owner}/{repo}/issues?labels=L&state=all&sort=updated&direction=asc&since=T&per_page=100
//     ("List repository issues", REST API endpoints for issues), one query
//     per incident or bug label (several labels in one filter would mean
//     "all of them"). since is inclusive ("updated at or after"). Pull
//     requests in the answer (they have a pull_request key) are skipped.
//     Fields: number, state, created_at, updated_at, closed_at,
//     labels[].name. Every `reconcile` the same query without since lists
//     the ids still labelled, and stored issues not among them are pruned.
//   - GET /repos/{owner}/{repo}/pulls/{pull_number} ("Get a pull request")
//     and GET /repos/{owner}/{repo}/deployments/{deployment_id} ("Get a
//     deployment"): only by the reconcile (reconcile.go), to confirm that
//     an item missing from its listing is gone (404) before its record is
//     removed.
//   - GET /repos/{owner}/{repo}/commits?per_page=1 ("List commits"): only
//     by `kpid validate --online`, to learn whether Contents: read is
//     granted.
//   - GET /orgs/{org}/repos?type=all&per_page=100 ("List organization
//     repositories", REST API endpoints for repositories) for "org/*"
//     entries, at most hourly; archived repositories (archived: true) are
//     skipped. Field: full_name, archived.
//   - POST /app/installations/{installation_id}/access_tokens ("Create an
//     installation access token for an app", REST API endpoints for GitHub
//     Apps) with GitHub App authentication: a JWT signed RS256 with the
//     App's private key (iss = app id, iat 60 s in the past, exp under 10
//     minutes). The installation token (about one hour) is renewed 10
//     minutes before it expires.
//
// # Permissions
//
// A fine-grained personal access token or a GitHub App needs read-only
// repository permissions: Metadata (repositories, org listing), Pull
// requests (pulls, reviews), Issues (issues), Deployments (deployments and
// statuses) and Contents (compare). A classic token needs the repo scope for
// private repositories (public_repo is not enough for private ones); for
// "org/*" the token must see the organisation's repositories.
//
// `kpid validate --online` (Check) calls GET /user ("Get the authenticated
// user"; a classic token's scopes come in X-OAuth-Scopes, a fine-grained
// token sends none) or creates an App installation token, then asks every
// repository named in repos, and the first one each "org/*" organisation
// lists, for one item of its pulls, issues, deployments and commits: a 403
// names a missing permission (X-Accepted-GitHub-Permissions tells the same),
// a 404 on all four a repository the credentials cannot see (for a classic
// token without the repo scope: that scope). The permissions of a
// fine-grained token or an App are the same on every repository it is
// granted.
//
// # Reconcile and repositories that leave
//
// Every `reconcile` (default 24h) the labelled issues are listed in full
// (issues.go), and the pull requests and the deployments to each production
// environment within the lookback (reconcile.go): what was stored and is
// gone upstream (confirmed by a 404) is removed with its samples. Records
// older than the lookback are history and stay until retention. The ledger
// this needs costs no request on a first or full sync (the walk is the
// listing). A repository no longer synced (deleted, archived or transferred
// out of an "org/*" organisation, removed from repos, or excluded) is no
// longer requested; its open pull requests leave the github_prs_open
// snapshot, and its history stays until retention.
//
// # Rate limits
//
// The shared HTTP layer (internal/httpclient) retries 5xx and 429 with
// backoff, honours Retry-After and X-RateLimit-Reset, keeps min_remaining of
// the budget unused and turns 401/403 into credentials errors. go-github's
// own pre-check of an exhausted primary limit is kept for unconditional
// requests (the connector waits for the reset when it is within max_wait,
// else ends the run); conditional requests bypass it
// (github.BypassRateLimitCheck), since a 304 costs no rate limit.
//
// # Records
//
// Kinds "pull" and "open_pull" (ID "{owner}/{repo}#{number}"), "deployment"
// (ID "{owner}/{repo}/deployments/{id}") and "issue" (ID
// "{owner}/{repo}#{number}") keep only times, states, ids, logins and the
// labels used: never titles, bodies, comments, names or emails. The
// cursors of each stream are described on their types (pullsCursor,
// openCursor, deployCursor, issuesCursor, reconcileCursor, reposCursor).
package github
