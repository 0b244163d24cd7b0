package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kpid/kpid/internal/blackbox"
	"github.com/kpid/kpid/internal/store"
)

// TestCommandsThroughRunningDaemon: with a daemon holding the store, sync,
// recompute and backup go through its lifecycle endpoints; without
// --web.enable-lifecycle they are refused with a clear message.
func TestCommandsThroughRunningDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := blackbox.Binary(t)
	sims := startSims(t)
	dir := t.TempDir()
	cfg := writeDemoConfig(t, dir, sims)

	p := startKpid(t, bin, cfg, "lifecycle.log", "--web.enable-lifecycle")
	waitSynced(t, p.base, allConnectors, 60*time.Second)
	ctx := context.Background()

	var out, errb bytes.Buffer
	if code := run(ctx, []string{"sync", "--config", cfg, "--connector", "acme-github"}, nil, &out, &errb); code != 0 {
		t.Fatalf("sync through daemon: exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "asking the running kpid") || !strings.Contains(out.String(), "sync finished") {
		t.Errorf("sync output = %q", out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"recompute", "--config", cfg}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "recompute finished") {
		t.Fatalf("recompute through daemon: exit %d: %s %s", code, out.String(), errb.String())
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	out.Reset()
	if code := run(ctx, []string{"backup", "--config", cfg, "--out", backup}, nil, &out, &errb); code != 0 {
		t.Fatalf("backup through daemon: exit %d: %s %s", code, out.String(), errb.String())
	}
	st, err := store.Open(store.Options{Path: backup, ReadOnly: true})
	if err != nil {
		t.Fatalf("backup does not open: %v", err)
	}
	stats, _ := st.Stats()
	st.Close()
	if stats.Records["acme-github"] == 0 || stats.Records["acme-jira"] == 0 {
		t.Errorf("backup records = %v", stats.Records)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	if _, err := os.Stat(daemonInfoPath(filepath.Join(dir, "kpid.db"))); !os.IsNotExist(err) {
		t.Errorf("daemon info file left after a clean exit: %v", err)
	}

	// Without the lifecycle flag: refused, exit 2, one line.
	p = startKpid(t, bin, cfg, "nolifecycle.log")
	waitSynced(t, p.base, allConnectors, 60*time.Second)
	errb.Reset()
	if code := run(ctx, []string{"sync", "--config", cfg}, nil, &out, &errb); code != exitRuntime || !strings.Contains(errb.String(), "--web.enable-lifecycle") {
		t.Errorf("sync against a daemon without lifecycle: exit %d, %q", code, errb.String())
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}
