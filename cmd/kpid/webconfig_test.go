package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunRefusesABadWebConfigFile: a --web.config.file that cannot be read
// or does not hold a valid exporter-toolkit config stops `kpid run` at
// once with exit 1 and a one-line message naming the file, instead of a
// daemon whose HTTP server never serves.
func TestRunRefusesABadWebConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kpid.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("storage: {path: %q}\nkpis: []\n", filepath.Join(dir, "kpid.db"))), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: "+filepath.Join(dir, "nope.crt")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, webConfig := range []string{filepath.Join(dir, "missing.yml"), bad} {
		t.Run(filepath.Base(webConfig), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			code := run(ctx, []string{"run", "--config", cfg, "--web.listen-address=127.0.0.1:0", "--log.level=error", "--web.config.file=" + webConfig}, nil, &out, &errb)
			if ctx.Err() != nil {
				t.Fatalf("kpid run kept running with a bad --web.config.file (exit %d): %s", code, errb.String())
			}
			if code != exitInvalid {
				t.Errorf("exit %d, want 1: %s", code, errb.String())
			}
			if msg := strings.TrimSpace(errb.String()); strings.Count(msg, "\n") != 0 || !strings.Contains(msg, webConfig) {
				t.Errorf("message = %q, want one line naming %s", msg, webConfig)
			}
		})
	}
}

// TestSyncUnknownConnectorIsInvalidInput: `kpid sync --connector NAME` with
// a NAME the config does not have is a bad flag (exit 1), found before the
// store is opened.
func TestSyncUnknownConnectorIsInvalidInput(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kpid.yaml")
	db := filepath.Join(dir, "kpid.db")
	src := fmt.Sprintf("storage: {path: %q}\nconnectors:\n  - {name: gh, type: github, schedule: \"@hourly\", token: x, repos: [a/b], base_url: \"http://127.0.0.1:1/\"}\n", db)
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"sync", "--config", cfg, "--connector", "nope", "--log.level=error"}, nil, &out, &errb)
	if code != exitInvalid {
		t.Errorf("exit %d, want 1: %s", code, errb.String())
	}
	if msg := strings.TrimSpace(errb.String()); strings.Count(msg, "\n") != 0 || !strings.Contains(msg, `"nope"`) || !strings.Contains(msg, "gh") {
		t.Errorf("message = %q, want one line naming nope and the configured connectors", msg)
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("the store was created for a sync that could not run")
	}
}
