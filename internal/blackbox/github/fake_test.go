package github_test

// A fake of the GitHub REST API, written from GitHub's REST documentation
// (pulls, pull request reviews, deployments, deployment statuses, compare
// two commits, issues), the way an outside team would: it answers the
// documented query parameters (state, sort, direction, labels, since,
// environment, per_page, page with Link headers) with the documented JSON
// shapes and defaults, and nothing more: no ETags, no rate-limit headers.
// With ignoreSort set it ignores `sort` and `direction` and lists pull
// requests and issues in its natural order (newest number first, GitHub's
// default "created desc"), and deployments and their statuses in creation
// order (oldest first) instead of newest first.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type ghUser struct {
	Login string
	Type  string // "User" (default) or "Bot"
}

type ghReview struct {
	User      ghUser
	State     string     // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
	Submitted *time.Time // nil for PENDING
}

type ghPull struct {
	Name    string // test handle, not sent
	User    ghUser
	Created time.Time
	Updated time.Time
	Closed  *time.Time
	Merged  *time.Time
	Draft   bool
	Labels  []string
	Reviews []ghReview
	number  int
}

type ghIssue struct {
	Name    string
	Created time.Time
	Updated time.Time
	Closed  *time.Time
	Labels  []string
	number  int
}

type ghStatus struct {
	State   string
	Created time.Time
}

type ghDeployment struct {
	ID       int64
	SHA      string
	Env      string
	Created  time.Time
	Statuses []ghStatus // in the order they were created
}

type ghCommit struct {
	SHA  string
	Date time.Time // author date
}

type ghRepo struct {
	Pulls       []*ghPull
	Issues      []*ghIssue
	Deployments []*ghDeployment
	Commits     []ghCommit // linear history, oldest first
}

type fakeGitHub struct {
	mu         sync.Mutex
	prefix     string // e.g. "" or "/api/v3"
	token      string
	ignoreSort bool
	repos      map[string]*ghRepo // "owner/name", lower case
}

// number gives the pull requests and issues of every repository their
// numbers, in order of creation (they share one sequence on GitHub).
func (f *fakeGitHub) number() {
	for _, r := range f.repos {
		type item struct {
			created time.Time
			set     func(int)
		}
		var items []item
		for _, p := range r.Pulls {
			items = append(items, item{p.Created, func(n int) { p.number = n }})
		}
		for _, is := range r.Issues {
			items = append(items, item{is.Created, func(n int) { is.number = n }})
		}
		sort.SliceStable(items, func(i, j int) bool { return items[i].created.Before(items[j].created) })
		for i, it := range items {
			it.set(i + 1)
		}
	}
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func rfcp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return rfc(*t)
}

func userJSON(u ghUser) map[string]any {
	typ := u.Type
	if typ == "" {
		typ = "User"
	}
	return map[string]any{"login": u.Login, "id": len(u.Login)*1000 + int(u.Login[0]), "type": typ, "site_admin": false}
}

func labelsJSON(names []string) []map[string]any {
	out := []map[string]any{}
	for i, n := range names {
		out = append(out, map[string]any{"id": 100 + i, "name": n, "color": "ededed", "default": false})
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
}

// change applies a change to the upstream data between two syncs.
func (f *fakeGitHub) change(fn func(repos map[string]*ghRepo)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.repos)
}

// addPull adds a pull request with the next number of its repository.
func (r *ghRepo) addPull(p *ghPull) {
	n := 0
	for _, x := range r.Pulls {
		n = max(n, x.number)
	}
	for _, x := range r.Issues {
		n = max(n, x.number)
	}
	p.number = n + 1
	r.Pulls = append(r.Pulls, p)
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	auth := r.Header.Get("Authorization")
	if auth != "Bearer "+f.token && auth != "token "+f.token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials"})
		return
	}
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": "Method not allowed"})
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, f.prefix+"/")
	if !ok {
		notFound(w)
		return
	}
	seg := strings.Split(path, "/")
	if len(seg) < 4 || seg[0] != "repos" {
		notFound(w)
		return
	}
	repo := f.repos[strings.ToLower(seg[1]+"/"+seg[2])]
	if repo == nil {
		notFound(w)
		return
	}
	rest := seg[3:]
	switch {
	case len(rest) == 1 && rest[0] == "pulls":
		f.pulls(w, r, repo)
	case len(rest) == 2 && rest[0] == "pulls":
		for _, p := range repo.Pulls {
			if strconv.Itoa(p.number) == rest[1] {
				writeJSON(w, http.StatusOK, pullJSON(repoName(r, f), p))
				return
			}
		}
		notFound(w)
	case len(rest) == 2 && rest[0] == "deployments":
		for _, d := range repo.Deployments {
			if strconv.FormatInt(d.ID, 10) == rest[1] {
				writeJSON(w, http.StatusOK, deploymentJSON(d))
				return
			}
		}
		notFound(w)
	case len(rest) == 3 && rest[0] == "pulls" && rest[2] == "reviews":
		f.reviews(w, r, repo, rest[1])
	case len(rest) == 1 && rest[0] == "deployments":
		f.deployments(w, r, repo)
	case len(rest) == 3 && rest[0] == "deployments" && rest[2] == "statuses":
		f.statuses(w, r, repo, rest[1])
	case len(rest) == 2 && rest[0] == "compare":
		f.compare(w, r, repo, rest[1])
	case len(rest) == 1 && rest[0] == "issues":
		f.issues(w, r, repo)
	default:
		notFound(w)
	}
}

// page cuts [0,n) by per_page (default def, at most 100) and page (default
// 1) and sets the Link header the REST API sends when there is more than
// one page.
func page(w http.ResponseWriter, r *http.Request, n, def int) (lo, hi int, bad bool) {
	q := r.URL.Query()
	per, pg := def, 1
	if s := q.Get("per_page"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			return 0, 0, true
		}
		per = v
	}
	if per < 1 {
		per = def
	}
	if per > 100 {
		per = 100
	}
	if s := q.Get("page"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			return 0, 0, true
		}
		pg = max(v, 1)
	}
	last := max((n+per-1)/per, 1)
	link := func(p int, rel string) string {
		qq := r.URL.Query()
		qq.Set("page", strconv.Itoa(p))
		qq.Set("per_page", strconv.Itoa(per))
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: qq.Encode()}
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if pg > 1 {
		links = append(links, link(pg-1, "prev"))
	}
	if pg < last {
		links = append(links, link(pg+1, "next"), link(last, "last"))
	}
	if pg > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	lo = min((pg-1)*per, n)
	hi = min(lo+per, n)
	return lo, hi, false
}

func unprocessable(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []any{msg}})
}

func pullState(p *ghPull) string {
	if p.Closed != nil {
		return "closed"
	}
	return "open"
}

// order sorts items by the documented sort/direction parameters: sort
// defaults to created; direction to desc when sort is created (or not
// given), else asc. With ignoreSort the natural order is newest number
// first.
func (f *fakeGitHub) order(r *http.Request, n int, number func(int) int, created, updated func(int) time.Time) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	q := r.URL.Query()
	srt, dir := q.Get("sort"), q.Get("direction")
	if f.ignoreSort {
		srt, dir = "created", "desc"
	}
	if srt == "" {
		srt = "created"
	}
	if dir == "" {
		dir = "asc"
		if srt == "created" {
			dir = "desc"
		}
	}
	key := func(i int) time.Time {
		if srt == "updated" {
			return updated(i)
		}
		return created(i)
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ka, kb := key(idx[a]), key(idx[b])
		if !ka.Equal(kb) {
			if dir == "desc" {
				return ka.After(kb)
			}
			return ka.Before(kb)
		}
		if dir == "desc" {
			return number(idx[a]) > number(idx[b])
		}
		return number(idx[a]) < number(idx[b])
	})
	if f.ignoreSort {
		sort.SliceStable(idx, func(a, b int) bool { return number(idx[a]) > number(idx[b]) })
	}
	return idx
}

func pullJSON(repo string, p *ghPull) map[string]any {
	labels := labelsJSON(p.Labels)
	return map[string]any{
		"id": 900000 + p.number, "number": p.number, "state": pullState(p), "locked": false,
		"title": "Change " + strconv.Itoa(p.number), "body": "Private text.",
		"user": userJSON(p.User), "labels": labels, "draft": p.Draft,
		"created_at": rfc(p.Created), "updated_at": rfc(p.Updated),
		"closed_at": rfcp(p.Closed), "merged_at": rfcp(p.Merged),
		"merge_commit_sha": nil, "author_association": "MEMBER",
		"html_url": "https://github.com/" + repo + "/pull/" + strconv.Itoa(p.number),
	}
}

func repoName(r *http.Request, f *fakeGitHub) string {
	seg := strings.Split(strings.TrimPrefix(r.URL.Path, f.prefix+"/"), "/")
	return seg[1] + "/" + seg[2]
}

func (f *fakeGitHub) pulls(w http.ResponseWriter, r *http.Request, repo *ghRepo) {
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "open"
	}
	var list []*ghPull
	for _, p := range repo.Pulls {
		if state == "all" || state == pullState(p) {
			list = append(list, p)
		}
	}
	idx := f.order(r, len(list),
		func(i int) int { return list[i].number },
		func(i int) time.Time { return list[i].Created },
		func(i int) time.Time { return list[i].Updated })
	lo, hi, bad := page(w, r, len(idx), 30)
	if bad {
		unprocessable(w, "bad page")
		return
	}
	out := []any{}
	for _, i := range idx[lo:hi] {
		out = append(out, pullJSON(repoName(r, f), list[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *fakeGitHub) reviews(w http.ResponseWriter, r *http.Request, repo *ghRepo, num string) {
	var pr *ghPull
	for _, p := range repo.Pulls {
		if strconv.Itoa(p.number) == num {
			pr = p
		}
	}
	if pr == nil {
		notFound(w)
		return
	}
	// "The list of reviews returns in chronological order."
	lo, hi, bad := page(w, r, len(pr.Reviews), 30)
	if bad {
		unprocessable(w, "bad page")
		return
	}
	out := []any{}
	for i, rv := range pr.Reviews[lo:hi] {
		item := map[string]any{
			"id": 80000 + pr.number*100 + lo + i, "user": userJSON(rv.User), "body": "Looks good.",
			"state": rv.State, "commit_id": "deadbeef", "author_association": "MEMBER",
		}
		if rv.Submitted != nil {
			item["submitted_at"] = rfc(*rv.Submitted)
		}
		out = append(out, item)
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *fakeGitHub) deployments(w http.ResponseWriter, r *http.Request, repo *ghRepo) {
	q := r.URL.Query()
	var list []*ghDeployment
	for _, d := range repo.Deployments {
		if env := q.Get("environment"); env != "" && env != d.Env {
			continue
		}
		if sha := q.Get("sha"); sha != "" && sha != d.SHA {
			continue
		}
		list = append(list, d)
	}
	// Newest first; the unsorted fake lists in creation order.
	sort.SliceStable(list, func(i, j int) bool { return (list[i].ID > list[j].ID) != f.ignoreSort })
	lo, hi, bad := page(w, r, len(list), 30)
	if bad {
		unprocessable(w, "bad page")
		return
	}
	out := []any{}
	for _, d := range list[lo:hi] {
		out = append(out, deploymentJSON(d))
	}
	writeJSON(w, http.StatusOK, out)
}

func deploymentJSON(d *ghDeployment) map[string]any {
	updated := d.Created
	for _, s := range d.Statuses {
		if s.Created.After(updated) {
			updated = s.Created
		}
	}
	return map[string]any{
		"id": d.ID, "sha": d.SHA, "ref": "main", "task": "deploy", "payload": map[string]any{},
		"environment": d.Env, "original_environment": d.Env, "description": nil,
		"creator":    userJSON(ghUser{Login: "deployer"}),
		"created_at": rfc(d.Created), "updated_at": rfc(updated),
		"transient_environment": false, "production_environment": d.Env == "production",
	}
}

func (f *fakeGitHub) statuses(w http.ResponseWriter, r *http.Request, repo *ghRepo, id string) {
	var dep *ghDeployment
	for _, d := range repo.Deployments {
		if strconv.FormatInt(d.ID, 10) == id {
			dep = d
		}
	}
	if dep == nil {
		notFound(w)
		return
	}
	// Newest first.
	type st struct {
		id int
		s  ghStatus
	}
	var list []st
	for i, s := range dep.Statuses {
		list = append(list, st{int(dep.ID)*100 + i, s})
	}
	sort.SliceStable(list, func(i, j int) bool { return (list[i].id > list[j].id) != f.ignoreSort })
	lo, hi, bad := page(w, r, len(list), 30)
	if bad {
		unprocessable(w, "bad page")
		return
	}
	out := []any{}
	for _, s := range list[lo:hi] {
		out = append(out, map[string]any{
			"id": s.id, "state": s.s.State, "description": "", "environment": dep.Env,
			"creator":    userJSON(ghUser{Login: "deployer"}),
			"created_at": rfc(s.s.Created), "updated_at": rfc(s.s.Created),
			"target_url": "", "log_url": "",
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *fakeGitHub) compare(w http.ResponseWriter, r *http.Request, repo *ghRepo, basehead string) {
	base, head, ok := strings.Cut(basehead, "...")
	if !ok {
		notFound(w)
		return
	}
	bi, hi := -1, -1
	for i, c := range repo.Commits {
		if c.SHA == base {
			bi = i
		}
		if c.SHA == head {
			hi = i
		}
	}
	if bi < 0 || hi < 0 {
		notFound(w)
		return
	}
	var commits []ghCommit
	status := "identical"
	if hi > bi {
		commits = repo.Commits[bi+1 : hi+1]
		status = "ahead"
	} else if hi < bi {
		status = "behind"
	}
	// Without pagination parameters the comparison returns up to 250
	// commits; with them, the usual pages.
	q := r.URL.Query()
	lo, up := 0, min(len(commits), 250)
	if q.Has("per_page") || q.Has("page") {
		var bad bool
		lo, up, bad = page(w, r, len(commits), 30)
		if bad {
			unprocessable(w, "bad page")
			return
		}
	}
	out := []any{}
	for _, c := range commits[lo:up] {
		who := map[string]any{"name": "Dev", "email": "dev@example.com", "date": rfc(c.Date)}
		out = append(out, map[string]any{
			"sha": c.SHA,
			"commit": map[string]any{
				"author": who, "committer": map[string]any{"name": "GitHub", "email": "noreply@github.com", "date": rfc(c.Date.Add(time.Minute))},
				"message": "commit " + c.SHA,
			},
			"author": userJSON(ghUser{Login: "dev"}), "parents": []any{},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status": status, "ahead_by": len(commits), "behind_by": 0, "total_commits": len(commits),
		"base_commit": map[string]any{"sha": base}, "merge_base_commit": map[string]any{"sha": base},
		"commits": out, "files": []any{},
	})
}

func (f *fakeGitHub) issues(w http.ResponseWriter, r *http.Request, repo *ghRepo) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var since time.Time
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			unprocessable(w, "since must be an ISO 8601 timestamp")
			return
		}
		since = t
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	type item struct {
		number           int
		created, updated time.Time
		json             map[string]any
	}
	var list []item
	match := func(st string, updated time.Time, labels []string) bool {
		if state != "all" && state != st {
			return false
		}
		if !since.IsZero() && updated.Before(since) {
			return false
		}
		for _, wl := range want {
			found := false
			for _, l := range labels {
				if strings.EqualFold(strings.TrimSpace(wl), l) {
					found = true
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	name := repoName(r, f)
	for _, is := range repo.Issues {
		st := "open"
		if is.Closed != nil {
			st = "closed"
		}
		if !match(st, is.Updated, is.Labels) {
			continue
		}
		list = append(list, item{is.number, is.Created, is.Updated, map[string]any{
			"id": 700000 + is.number, "number": is.number, "state": st, "title": "Issue " + strconv.Itoa(is.number),
			"body": "Private text.", "user": userJSON(ghUser{Login: "reporter"}), "labels": labelsJSON(is.Labels),
			"comments": 0, "created_at": rfc(is.Created), "updated_at": rfc(is.Updated), "closed_at": rfcp(is.Closed),
			"author_association": "MEMBER", "html_url": "https://github.com/" + name + "/issues/" + strconv.Itoa(is.number),
		}})
	}
	for _, p := range repo.Pulls {
		if !match(pullState(p), p.Updated, p.Labels) {
			continue
		}
		js := pullJSON(name, p)
		js["pull_request"] = map[string]any{
			"url":       "https://api.github.com/repos/" + name + "/pulls/" + strconv.Itoa(p.number),
			"html_url":  "https://github.com/" + name + "/pull/" + strconv.Itoa(p.number),
			"merged_at": rfcp(p.Merged),
		}
		delete(js, "merged_at")
		list = append(list, item{p.number, p.Created, p.Updated, js})
	}
	idx := f.order(r, len(list),
		func(i int) int { return list[i].number },
		func(i int) time.Time { return list[i].created },
		func(i int) time.Time { return list[i].updated })
	lo, hi, bad := page(w, r, len(idx), 30)
	if bad {
		unprocessable(w, "bad page")
		return
	}
	out := []any{}
	for _, i := range idx[lo:hi] {
		out = append(out, list[i].json)
	}
	writeJSON(w, http.StatusOK, out)
}
