package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpid/kpid/internal/blackbox"
	"github.com/kpid/kpid/internal/store"
)

// readOnly makes path unwritable even for root (chattr +i when running as
// root, chmod otherwise) and returns the undo; ok is false when the file
// system cannot do it.
func readOnly(t *testing.T, path string) (undo func(), ok bool) {
	t.Helper()
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
			t.Logf("chattr +i %s: %v %s", path, err, out)
			return nil, false
		}
		return func() { _ = exec.Command("chattr", "-i", path).Run() }, true
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	mode := fi.Mode().Perm()
	if err := os.Chmod(path, mode&^0o222); err != nil {
		t.Fatal(err)
	}
	return func() { _ = os.Chmod(path, mode) }, true
}

// dirState is a directory's file names with their contents' digests.
func dirState(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			lines = append(lines, p+"/")
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s %x", p, sha256.Sum256(b)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestStoreProblemsFailCleanly: a store file that is not a bbolt file (or
// not kpid's), that another process holds, that sits on a read-only path,
// or that is a directory: every command that opens the store fails with a
// one-line error naming the file, exit code 2, and nothing is written.
func TestStoreProblemsFailCleanly(t *testing.T) {
	type storeCase struct {
		name string
		// prepare creates the store path's situation in dir and returns
		// the store path and a cleanup (may be nil); skip says why the
		// case cannot be set up here.
		prepare func(t *testing.T, dir string) (db string, cleanup func(), skip string)
		want    string // in the message
	}
	cases := []storeCase{
		{"text file", func(t *testing.T, dir string) (string, func(), string) {
			db := filepath.Join(dir, "kpid.db")
			writeFile(t, db, strings.Repeat("this is not a database\n", 500))
			return db, nil, ""
		}, "not a kpid store"},
		{"short garbage", func(t *testing.T, dir string) (string, func(), string) {
			db := filepath.Join(dir, "kpid.db")
			writeFile(t, db, "\x00\x01garbage")
			return db, nil, ""
		}, "not a kpid store"},
		{"bbolt file of another program", func(t *testing.T, dir string) (string, func(), string) {
			db := filepath.Join(dir, "kpid.db")
			bdb, err := bbolt.Open(db, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := bdb.Update(func(tx *bbolt.Tx) error {
				b, err := tx.CreateBucket([]byte("theirs"))
				if err != nil {
					return err
				}
				return b.Put([]byte("k"), []byte("v"))
			}); err != nil {
				t.Fatal(err)
			}
			_ = bdb.Close()
			return db, nil, ""
		}, "not a kpid store"},
		{"locked by another process", func(t *testing.T, dir string) (string, func(), string) {
			db := filepath.Join(dir, "kpid.db")
			st, err := openStoreForTest(db)
			if err != nil {
				t.Fatal(err)
			}
			return db, func() { st.Close() }, ""
		}, "locked by another process"},
		{"new store in a read-only directory", func(t *testing.T, dir string) (string, func(), string) {
			ro := filepath.Join(dir, "ro")
			if err := os.Mkdir(ro, 0o700); err != nil {
				t.Fatal(err)
			}
			undo, ok := readOnly(t, ro)
			if !ok {
				return "", nil, "cannot make a directory read-only here"
			}
			return filepath.Join(ro, "kpid.db"), undo, ""
		}, ""},
		{"existing store made read-only", func(t *testing.T, dir string) (string, func(), string) {
			db := filepath.Join(dir, "kpid.db")
			st, err := openStoreForTest(db)
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			undo, ok := readOnly(t, db)
			if !ok {
				return "", nil, "cannot make a file read-only here"
			}
			return db, undo, ""
		}, ""},
		{"directory in place of the file", func(t *testing.T, dir string) (string, func(), string) {
			db := filepath.Join(dir, "kpid.db")
			if err := os.Mkdir(db, 0o700); err != nil {
				t.Fatal(err)
			}
			return db, nil, ""
		}, ""},
	}
	commands := []struct {
		name string
		args func(cfg, dir string) []string
	}{
		{"run", func(cfg, _ string) []string {
			return []string{"run", "--config", cfg, "--web.listen-address=127.0.0.1:0"}
		}},
		{"sync", func(cfg, _ string) []string { return []string{"sync", "--config", cfg} }},
		{"sync one connector in full", func(cfg, _ string) []string {
			return []string{"sync", "--config", cfg, "--connector", "gh", "--full"}
		}},
		{"recompute", func(cfg, _ string) []string { return []string{"recompute", "--config", cfg} }},
		{"backup", func(cfg, dir string) []string {
			return []string{"backup", "--config", cfg, "--out", filepath.Join(dir, "backup.db")}
		}},
	}
	for _, sc := range cases {
		for _, cmd := range commands {
			t.Run(sc.name+"/"+cmd.name, func(t *testing.T) {
				dir := t.TempDir()
				db, cleanup, skip := sc.prepare(t, dir)
				if skip != "" {
					t.Skip(skip)
				}
				if cleanup != nil {
					t.Cleanup(cleanup)
				}
				cfgDir := t.TempDir()
				cfg := filepath.Join(cfgDir, "kpid.yaml")
				writeFile(t, cfg, fmt.Sprintf("storage: {path: %q, open_timeout: 200ms}\nconnectors:\n"+
					"  - {name: gh, type: github, schedule: \"@hourly\", base_url: \"http://127.0.0.1:1/\", token: x, repos: [a/b]}\n", db))
				before := dirState(t, dir)

				var out, errb bytes.Buffer
				code := run(context.Background(), cmd.args(cfg, dir), strings.NewReader(""), &out, &errb)
				if code != exitRuntime {
					t.Fatalf("exit %d, want 2; stdout %q, stderr %q", code, out.String(), errb.String())
				}
				msg := strings.TrimSpace(errb.String())
				if strings.Contains(msg, "\n") {
					t.Errorf("message is not one line:\n%s", msg)
				}
				if !strings.HasPrefix(msg, "kpid: open store "+db+": ") || !strings.Contains(msg, sc.want) {
					t.Errorf("message = %q, want \"kpid: open store %s: …%s…\"", msg, db, sc.want)
				}
				if after := dirState(t, dir); after != before {
					t.Errorf("files changed:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			})
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// rawHTTP sends raw bytes to addr and returns the status line of the answer
// ("" when the server closed the connection without one).
func rawHTTP(t *testing.T, addr string, raw []byte) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	_, _ = conn.Write(raw)
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.CloseWrite()
	}
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line)
}

// post sends method path with body to base and returns the status and body.
func post(t *testing.T, method, url string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitMetric polls p's /metrics until series has value want.
func waitMetric(t *testing.T, p *daemonProc, series string, want float64) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, err := scrape(p.base + "/metrics")
		if err == nil {
			if v, ok := metricValue(body, series); ok && v == want {
				return body
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became %v; log:\n%s", series, want, tail(p.log(), 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBadInputToTheDaemon: oversized and malformed requests to every
// endpoint are refused and change nothing; a config edited into something
// invalid and reloaded (POST /-/reload or SIGHUP) leaves the running config
// in force with kpid_config_last_reload_successful 0, and a fixed config
// reloads.
func TestBadInputToTheDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := blackbox.Binary(t)
	sims := startSims(t)
	dir := t.TempDir()
	cfg := writeDemoConfig(t, dir, sims)
	good, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := startKpid(t, bin, cfg, "badinput.log", "--web.enable-lifecycle")
	want := kpiLines(waitSynced(t, p.base, allConnectors, 60*time.Second))
	addr := strings.TrimPrefix(p.base, "http://")

	t.Run("requests", func(t *testing.T) {
		big := strings.Repeat("x", 8<<20)
		for _, c := range []struct {
			method, path string
			body         string
			want         int
		}{
			{"POST", "/-/reload", big, http.StatusRequestEntityTooLarge},
			{"POST", "/-/sync", big, http.StatusRequestEntityTooLarge},
			{"POST", "/-/recompute", big, http.StatusRequestEntityTooLarge},
			{"GET", "/-/backup", big, http.StatusRequestEntityTooLarge},
			{"POST", "/-/sync?connector=acme-nope", "", http.StatusNotFound},
			{"POST", "/-/sync?connector=acme-jira&full=perhaps", "", http.StatusBadRequest},
			{"POST", "/-/sync?connector=acme-jira&connector=acme-hubspot", "", http.StatusBadRequest},
			{"GET", "/-/reload", "", http.StatusMethodNotAllowed},
			{"DELETE", "/metrics", "", http.StatusMethodNotAllowed},
			{"POST", "/", "", http.StatusMethodNotAllowed},
			{"GET", "/-/../../etc/passwd", "", http.StatusNotFound},
			{"GET", "/" + strings.Repeat("a", 4096), "", http.StatusNotFound},
		} {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			code, msg := post(t, c.method, p.base+c.path, body)
			if code != c.want && !(c.want == http.StatusNotFound && code == http.StatusMovedPermanently) {
				t.Errorf("%s %.60s: %d %q, want %d", c.method, c.path, code, strings.TrimSpace(msg), c.want)
			}
		}
		for _, c := range []struct {
			name string
			raw  string
			want string // status line prefix; "" accepts a closed connection
		}{
			{"not http", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", "HTTP/1.1 400"},
			{"bad request line", "GIMME /metrics PLEASE\r\n\r\n", "HTTP/1.1 400"},
			{"bad content length", "POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n", "HTTP/1.1 400"},
			{"two content lengths", "POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "HTTP/1.1 400"},
			{"huge header", "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("h", 1<<20) + "\r\n\r\n", "HTTP/1.1 431"},
			{"huge url", "GET /?" + strings.Repeat("q", 1<<20) + " HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 431"},
			{"no host", "GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400"},
			{"truncated body", "POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nshort", ""},
			{"bad chunking", "POST /-/sync HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnope\r\n", "HTTP/1.1 400"},
		} {
			if got := rawHTTP(t, addr, []byte(c.raw)); !strings.HasPrefix(got, c.want) {
				t.Errorf("%s: answer %q, want %q", c.name, got, c.want)
			}
		}
		if code, _ := post(t, "GET", p.base+"/-/healthy", nil); code != 200 {
			t.Fatalf("healthy after bad requests: %d", code)
		}
		body, err := scrape(p.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		diffLines(t, "KPIs after bad requests", want, kpiLines(body))
		if v, _ := metricValue(body, "kpid_config_last_reload_successful"); v != 1 {
			t.Errorf("kpid_config_last_reload_successful = %v after refused requests, want 1", v)
		}
	})

	t.Run("invalid config reloaded", func(t *testing.T) {
		for _, c := range []struct {
			name, config string
			sighup       bool
		}{
			{"unknown key and bad cron, POST /-/reload",
				strings.Replace(strings.Replace(string(good), "schedule: \"@every 15m\"", "schedule: \"every quarter hour\"", 1), "storage:\n", "storage:\n  colour: blue\n", 1), false},
			{"not yaml, SIGHUP", "connectors: [\n  - {name: : }\n", true},
			{"file cut short by a partial write, SIGHUP", string(good[:bytes.Index(good, []byte("base_url: \""))+len("base_url: \"")]), true},
			{"connector of an unknown type, POST /-/reload", strings.Replace(string(good), "type: hubspot", "type: salesforce", 1), false},
		} {
			writeFile(t, cfg, c.config)
			if c.sighup {
				if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
			} else {
				code, msg := post(t, "POST", p.base+"/-/reload", nil)
				if code != http.StatusInternalServerError || !strings.HasPrefix(msg, "reload: ") {
					t.Errorf("%s: %d %q, want 500 \"reload: …\"", c.name, code, msg)
				}
			}
			body := waitMetric(t, p, "kpid_config_last_reload_successful", 0)
			diffLines(t, c.name+": KPIs", want, kpiLines(body))
			for _, name := range allConnectors {
				if !strings.Contains(body, `kpid_connector_up{connector="`+name+`"`) {
					t.Errorf("%s: connector %s gone after a failed reload", c.name, name)
				}
			}
			// Back to the good config: the next reload succeeds.
			writeFile(t, cfg, string(good))
			if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			waitMetric(t, p, "kpid_config_last_reload_successful", 1)
		}
		if !strings.Contains(p.log(), "config reload failed: keeping the running config") {
			t.Error("failed reloads not logged")
		}
	})
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestGracefulShutdownDuringSlowSync: SIGTERM while every connector syncs
// against slow upstreams: kpid exits 0 within 10s, the pages committed
// before are in the store, and the next start resumes from them instead of
// starting over.
func TestGracefulShutdownDuringSlowSync(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := blackbox.Binary(t)
	sims := startSims(t)
	dir := t.TempDir()
	cfg := writeDemoConfig(t, dir, sims)

	// The requests of GitHub's whole first sync, on a scratch store.
	scratch := writeDemoConfig(t, t.TempDir(), sims)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"sync", "--config", scratch, "--connector", "acme-github"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("reference sync: exit %d: %s", code, errb.String())
	}
	fullSync := sims.github.Recorder().Total()
	for _, r := range sims.recorders() {
		r.Reset()
		r.SetLatency(40 * time.Millisecond)
	}

	p := startKpid(t, bin, cfg, "slow.log")
	deadline := time.Now().Add(60 * time.Second)
	for {
		body, err := scrape(p.base + "/metrics")
		if err == nil {
			gh, _ := metricValue(body, `kpid_connector_records_total{connector="acme-github",type="github"}`)
			if gh > 0 && syncsPending(body) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GitHub never committed a page:\n%s", p.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if done := sims.github.Recorder().Total(); done > fullSync/2 {
		t.Fatalf("GitHub sync too far along (%d requests) to test an interrupted one", done)
	}
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := p.cmd.Wait()
	took := time.Since(sent)
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, tail(p.log(), 20))
	}
	// 10s for the in-flight pages, plus closing the store and the server.
	if took > 11*time.Second {
		t.Errorf("exit took %s after SIGTERM, want ≤ 10s", took)
	}
	log := p.log()
	if !strings.Contains(log, `msg="sync interrupted by shutdown after committing its current page" connector=acme-github`) {
		t.Errorf("GitHub's sync not reported interrupted:\n%s", tail(log, 20))
	}
	if !strings.Contains(log, "msg=stopped") {
		t.Errorf("no clean stop logged:\n%s", tail(log, 20))
	}
	st, err := openStoreReadOnly(filepath.Join(dir, "kpid.db"))
	if err != nil {
		t.Fatal(err)
	}
	stats, err := st.Stats()
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Records["acme-github"] == 0 {
		t.Fatalf("no GitHub record survived the shutdown: %v", stats.Records)
	}

	// The next start resumes GitHub's walk where the committed pages end.
	for _, r := range sims.recorders() {
		r.SetLatency(0)
		r.Reset()
	}
	p = startKpid(t, bin, cfg, "resumed.log")
	body := waitSynced(t, p.base, allConnectors, 60*time.Second)
	if n := sims.github.Recorder().Total(); n >= fullSync {
		t.Errorf("GitHub sync after restart made %d requests, no fewer than a whole first sync (%d): committed pages not reused", n, fullSync)
	}
	if v, _ := metricValue(body, `kpid_store_records{connector="acme-github"}`); int(v) < stats.Records["acme-github"] {
		t.Errorf("GitHub records after restart %v < %d before", v, stats.Records["acme-github"])
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// TestReloadChangesConnectorsKeepsOthersData: a reload that adds one
// connector and changes another rebuilds only those; the others keep their
// records and are not re-synced; a changed connector (same name and type)
// keeps its records and cursors. A reload that removes a connector drops
// its series and leaves the others alone; added back, it finds its records
// and cursors, so its sync is incremental.
func TestReloadChangesConnectorsKeepsOthersData(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := blackbox.Binary(t)
	sims := startSims(t)
	dir := t.TempDir()
	cfg := writeDemoConfig(t, dir, sims)
	good, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := startKpid(t, bin, cfg, "reload.log")
	before := waitSynced(t, p.base, allConnectors, 60*time.Second)
	records := func(body, c string) float64 {
		v, _ := metricValue(body, `kpid_store_records{connector="`+c+`"}`)
		return v
	}
	syncs := func(body, c string) float64 {
		v, _ := metricValue(body, `kpid_connector_syncs_total{connector="`+c+`",result="success",type="`+connectorType(c)+`"}`)
		return v
	}
	reload := func(text string) {
		t.Helper()
		writeFile(t, cfg, text)
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}

	// Add a second GitHub connector, change Jira's schedule.
	text := string(good)
	gh := connectorBlock(t, text, "acme-github")
	jira := connectorBlock(t, text, "acme-jira")
	gh2 := strings.Replace(gh, "name: acme-github", "name: acme-github2", 1)
	withGH2 := strings.Replace(text, gh, gh+gh2, 1)
	changed := strings.Replace(withGH2, jira, strings.Replace(jira, `schedule: "@every 15m"`, `schedule: "@every 20m"`, 1), 1)
	if !strings.Contains(changed, `"@every 20m"`) || !strings.Contains(changed, "acme-github2") {
		t.Fatal("test config edit did not apply")
	}
	sims.jira.Recorder().Reset()
	reload(changed)
	after := waitSyncedOK(t, p, []string{"acme-github2"}, func(body string) bool { return syncs(body, "acme-jira") >= 2 })
	for _, c := range []string{"acme-github", "acme-zendesk", "acme-hubspot"} {
		if records(after, c) != records(before, c) || syncs(after, c) != 1 {
			t.Errorf("%s: records %v -> %v, %v syncs: an unchanged connector was touched", c, records(before, c), records(after, c), syncs(after, c))
		}
	}
	if records(after, "acme-jira") != records(before, "acme-jira") {
		t.Errorf("changed acme-jira: records %v -> %v, want kept", records(before, "acme-jira"), records(after, "acme-jira"))
	}
	// Incremental: one search for the changes and one for the work in
	// progress, never the four of a full read.
	if n := sims.jira.Recorder().Count("POST /rest/api/3/search/jql"); n > 2 {
		t.Errorf("changed acme-jira made %d searches: its cursor was lost", n)
	}
	if records(after, "acme-github2") != records(after, "acme-github") {
		t.Errorf("added acme-github2 holds %v records, acme-github %v", records(after, "acme-github2"), records(after, "acme-github"))
	}

	// Remove the second GitHub connector.
	reload(text)
	removed := waitSyncedOK(t, p, nil, func(body string) bool {
		return !strings.Contains(body, `kpid_connector_up{connector="acme-github2"`)
	})
	for _, c := range allConnectors {
		if records(removed, c) != records(before, c) {
			t.Errorf("after removing acme-github2, %s: records %v -> %v", c, records(before, c), records(removed, c))
		}
	}

	// Added back, it resumes from its cursors.
	sims.github.Recorder().Reset()
	reload(withGH2)
	back := waitSyncedOK(t, p, []string{"acme-github2"}, nil)
	if records(back, "acme-github2") != records(after, "acme-github2") {
		t.Errorf("acme-github2 added back: records %v, want %v", records(back, "acme-github2"), records(after, "acme-github2"))
	}
	if n := sims.github.Recorder().Total(); n > 50 {
		t.Errorf("acme-github2 added back made %d requests, like a first sync: cursors lost", n)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// connectorType is the type of a test connector named acme-TYPE[2].
func connectorType(name string) string {
	return strings.TrimPrefix(strings.TrimSuffix(name, "2"), "acme-")
}

// connectorBlock returns the YAML entry of connector name in a demo config.
func connectorBlock(t *testing.T, text, name string) string {
	t.Helper()
	start := strings.Index(text, "- name: "+name+"\n")
	if start < 0 {
		t.Fatalf("no connector %s in config", name)
	}
	end := len(text)
	if i := strings.Index(text[start+1:], "\n- name: "); i >= 0 {
		end = start + 1 + i + 1
	}
	if i := strings.Index(text[start:], "\nkpis:"); i >= 0 && start+i+1 < end {
		end = start + i + 1
	}
	return text[start:end]
}

// waitSyncedOK polls p until the named connectors each have a successful
// sync and more (when not nil) holds; it returns the exposition after.
func waitSyncedOK(t *testing.T, p *daemonProc, names []string, more func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		body, err := scrape(p.base + "/metrics")
		if err == nil {
			ok := more == nil || more(body)
			for _, c := range names {
				if v, _ := metricValue(body, `kpid_connector_syncs_total{connector="`+c+`",result="success",type="`+connectorType(c)+`"}`); v < 1 {
					ok = false
				}
			}
			if ok {
				if body, err = scrape(p.base + "/metrics"); err == nil {
					return body
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("connectors %v not synced; log:\n%s", names, tail(p.log(), 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func openStoreReadOnly(path string) (*store.Store, error) {
	return store.Open(store.Options{Path: path, ReadOnly: true})
}

// TestHelpRunsNothing: --help (on its own, after a command, or as `help
// CMD`) prints the usage and exits 0 without running the command.
func TestHelpRunsNothing(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"help", "sync"}, {"sync", "--help"}, {"run", "--help"},
		{"version", "--help"}, {"backup", "--help"}, {"validate", "--config", "/nonexistent.yaml", "--help"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
		if code != exitOK || !strings.Contains(errb.String(), "usage: kpid") || strings.Contains(errb.String(), "kpid: ") ||
			strings.Contains(out.String(), "go version") || strings.Contains(out.String(), "go1") {
			t.Errorf("kpid %s: exit %d\nstdout %q\nstderr %.300q", strings.Join(args, " "), code, out.String(), errb.String())
		}
	}
}
