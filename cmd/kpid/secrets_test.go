package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kpid/kpid/internal/blackbox"
)

// testSecrets are recognisable credentials, one per simulator.
var testSecrets = map[string]string{
	"github":  "SECRET-gh-7f3a9d2e41",
	"zendesk": "SECRET-zd-91c2b7e058",
	"hubspot": "SECRET-hs-4b8e0c6a13",
	"jira":    "SECRET-jr-c05d3f9b72",
}

// secretNeedles are the strings that would betray a secret: the secrets,
// their distinctive tails, and the Basic credentials built from them.
func secretNeedles(s *simSet) []string {
	var out []string
	for _, v := range testSecrets {
		out = append(out, v, strings.TrimPrefix(v, "SECRET-"), v[len(v)-10:])
	}
	for _, cred := range []string{
		s.zendesk.Email() + "/token:" + testSecrets["zendesk"],
		s.jira.Email() + ":" + testSecrets["jira"],
	} {
		enc := base64.StdEncoding.EncodeToString([]byte(cred))
		out = append(out, enc, strings.TrimRight(enc, "="), base64.URLEncoding.EncodeToString([]byte(cred)))
	}
	return out
}

// outputs collects everything kpid shows, by where it came from.
type outputs struct {
	t     *testing.T
	items []struct{ where, text string }
}

func (o *outputs) add(where, text string) {
	o.items = append(o.items, struct{ where, text string }{where, text})
}

func (o *outputs) addFile(where, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		o.t.Fatalf("read %s: %v", path, err)
	}
	o.add(where, string(b))
}

// kpidCommands lists the commands of `kpid --help`, with their flags.
func kpidCommands(t *testing.T) map[string]string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, nil, &out, &errb); code != 0 {
		t.Fatalf("kpid --help: exit %d", code)
	}
	cmds := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z]+)\*? `).FindAllStringSubmatch(errb.String(), -1) {
		var h bytes.Buffer
		run(context.Background(), []string{m[1], "--help"}, nil, &out, &h)
		cmds[m[1]] = h.String()
	}
	if len(cmds) < 6 {
		t.Fatalf("kpid --help lists only %v", cmds)
	}
	return cmds
}

// TestSecretsNeverShown runs every command and a full sync with
// recognisable credentials (inline, from an environment variable and from a
// file), makes the upstreams refuse them, fails a reload, and asserts the
// secrets appear in no log, error, status page, /metrics, validate output,
// store or backup.
func TestSecretsNeverShown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := blackbox.Binary(t)
	sims := startSimsWith(t, simOptions{setup: func(s *simSet) {
		s.github.SetToken(testSecrets["github"])
		s.zendesk.SetCredentials(s.zendesk.Email(), testSecrets["zendesk"])
		s.hubspot.SetToken(testSecrets["hubspot"])
		s.jira.SetToken(testSecrets["jira"])
	}})
	dir := t.TempDir()
	cfg := writeDemoConfig(t, dir, sims)
	// GitHub's token from a file, HubSpot's from the environment, the others
	// inline.
	tokenFile := filepath.Join(t.TempDir(), "github-token")
	writeFile(t, tokenFile, testSecrets["github"]+"\n")
	t.Setenv("KPID_TEST_HUBSPOT_TOKEN", testSecrets["hubspot"])
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	good := strings.Replace(string(text), fmt.Sprintf("token: %q", testSecrets["github"]), "token_file: "+tokenFile, 1)
	good = strings.Replace(good, fmt.Sprintf("token: %q", testSecrets["hubspot"]), "token: ${KPID_TEST_HUBSPOT_TOKEN}", 1)
	if strings.Contains(good, testSecrets["github"]) || strings.Contains(good, testSecrets["hubspot"]) ||
		!strings.Contains(good, testSecrets["zendesk"]) || !strings.Contains(good, testSecrets["jira"]) {
		t.Fatal("config edit did not apply")
	}
	writeFile(t, cfg, good)
	out := &outputs{t: t}
	ctx := context.Background()
	kpid := func(args ...string) int {
		t.Helper()
		var o, e bytes.Buffer
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		code := run(cctx, args, strings.NewReader(""), &o, &e)
		out.add("kpid "+strings.Join(args, " ")+" (stdout)", o.String())
		out.add("kpid "+strings.Join(args, " ")+" (stderr)", e.String())
		return code
	}

	// Every command, on the store file, with debug logs.
	cmds := kpidCommands(t)
	outDir := t.TempDir()
	ran := 0
	for _, name := range []string{"validate", "sync", "recompute", "backup", "docs", "dashboards", "rules", "init", "version"} {
		help, ok := cmds[name]
		if !ok {
			continue // not built yet
		}
		args := []string{name}
		if strings.Contains(help, "--config") {
			args = append(args, "--config", cfg)
		}
		if strings.Contains(help, "--out") {
			args = append(args, "--out", filepath.Join(outDir, name))
		}
		if strings.Contains(help, "--log.level") {
			args = append(args, "--log.level=debug")
		}
		if code := kpid(args...); code != 0 && name != "dashboards" {
			t.Errorf("kpid %s: exit %d", strings.Join(args, " "), code)
		}
		ran++
	}
	for name := range cmds {
		switch name {
		case "validate", "sync", "recompute", "backup", "docs", "dashboards", "rules", "init", "version", "run", "demo", "help":
		default:
			t.Errorf("command %q is not covered by this test: add it", name)
		}
	}
	if code := kpid("validate", "--config", cfg, "--online", "--log.level=debug"); code != 0 {
		t.Errorf("validate --online: exit %d", code)
	}
	if code := kpid("sync", "--config", cfg, "--connector", "acme-jira", "--full", "--log.level=debug"); code != 0 {
		t.Errorf("sync --connector --full: exit %d", code)
	}
	out.addFile("backup file", filepath.Join(outDir, "backup"))
	t.Logf("%d commands run on the store file", ran)

	// An invalid config around the secrets: every problem printed, no secret.
	bad := strings.Replace(good, `schedule: "@every 15m"`, `schedule: "@every fortnight"`, 1)
	bad = strings.Replace(bad, "storage:\n", "storage:\n  pth: x\n", 1)
	badPath := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, badPath, bad)
	if code := kpid("validate", "--config", badPath); code != exitInvalid {
		t.Errorf("validate of a bad config: exit %d", code)
	}

	// The daemon: a full sync with debug logs, every endpoint, commands
	// through it, a failed reload, then credentials the upstreams refuse.
	p := startKpid(t, bin, cfg, "daemon.log", "--web.enable-lifecycle", "--log.level=debug")
	waitSynced(t, p.base, allConnectors, 60*time.Second)
	for _, path := range []string{"/metrics", "/", "/-/healthy", "/-/ready"} {
		body, err := scrape(p.base + path)
		if err != nil {
			t.Fatal(err)
		}
		out.add("GET "+path, body)
	}
	kpid("sync", "--config", cfg, "--full")
	kpid("recompute", "--config", cfg)
	kpid("backup", "--config", cfg, "--out", filepath.Join(outDir, "backup-via-daemon"))
	out.addFile("backup through the daemon", filepath.Join(outDir, "backup-via-daemon"))
	out.addFile("daemon info file", daemonInfoPath(filepath.Join(dir, "kpid.db")))

	writeFile(t, cfg, bad)
	_, msg := post(t, "POST", p.base+"/-/reload", nil)
	out.add("failed reload answer", msg)
	writeFile(t, cfg, good)

	sims.github.SetToken("rotated-gh")
	sims.zendesk.SetCredentials(sims.zendesk.Email(), "rotated-zd")
	sims.hubspot.SetToken("rotated-hs")
	sims.jira.SetToken("rotated-jr")
	code, msg := post(t, "POST", p.base+"/-/sync?full=1", nil)
	if code == http.StatusOK {
		t.Errorf("sync with refused credentials answered 200: %s", msg)
	}
	out.add("sync with refused credentials", msg)
	for _, c := range allConnectors {
		if !strings.Contains(msg, c) {
			t.Errorf("sync error does not name %s: %s", c, msg)
		}
	}
	for _, path := range []string{"/metrics", "/"} {
		body, err := scrape(p.base + path)
		if err != nil {
			t.Fatal(err)
		}
		out.add("GET "+path+" after refusals", body)
	}
	if code := kpid("validate", "--config", cfg, "--online"); code != exitInvalid {
		t.Errorf("validate --online with refused credentials: exit %d", code)
	}
	kpid("sync", "--config", cfg, "--connector", "acme-zendesk")

	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	out.addFile("daemon log", p.stderr)
	out.addFile("store file", filepath.Join(dir, "kpid.db"))
	if !strings.Contains(p.log(), "level=DEBUG") || !strings.Contains(p.log(), "sync failed") {
		t.Error("daemon log has no debug lines or no failed sync: the test proves less than it says")
	}

	needles := secretNeedles(sims)
	total := 0
	for _, it := range out.items {
		total += len(it.text)
		for _, n := range needles {
			if i := strings.Index(it.text, n); i >= 0 {
				lo, hi := max(0, i-120), min(len(it.text), i+len(n)+40)
				t.Errorf("%s shows a secret (%q): …%s…", it.where, n, it.text[lo:hi])
			}
		}
	}
	t.Logf("%d outputs, %d bytes, searched for %d forms of %d secrets", len(out.items), total, len(needles), len(testSecrets))
}
