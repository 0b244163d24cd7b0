package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kpid/kpid/config"
	"github.com/kpid/kpid/connectors"
)

// cmdValidate prints every problem (and lint warning) of a config, one per
// line as FILE:LINE: path: message; invalid configs exit 1.
func cmdValidate(ctx context.Context, path string, online bool, stdin io.Reader, stdout io.Writer, logger *slog.Logger) error {
	var (
		cfg *config.Config
		err error
	)
	if path == "-" {
		data, rerr := io.ReadAll(io.LimitReader(stdin, 16<<20))
		if rerr != nil {
			return invalid(fmt.Errorf("read config from standard input: %w", rerr))
		}
		cfg, err = config.Parse("<stdin>", data, loadOptions())
	} else {
		cfg, err = config.Load(path, loadOptions())
	}
	var probs config.Problems
	if errors.As(err, &probs) {
		for _, p := range probs {
			fmt.Fprintln(stdout, p.String())
		}
		return invalid(fmt.Errorf("%s: %d problem(s) found", displayName(path), len(probs)))
	}
	if err != nil {
		return invalid(err)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stdout, "warning: "+w)
	}
	fmt.Fprintf(stdout, "%s: valid (%s, %s, %s, %s)\n", displayName(path),
		plural(len(cfg.Connectors), "connector", "connectors"), plural(len(cfg.People), "person", "people"),
		plural(len(cfg.KPIs), "KPI", "KPIs"), plural(len(cfg.Warnings), "lint warning", "lint warnings"))
	if online {
		return checkOnline(ctx, cfg, stdout, logger)
	}
	return nil
}

// checkOnline makes one cheap authenticated call per connector and reports
// whether the credentials work and the permissions the KPIs need are there.
func checkOnline(ctx context.Context, cfg *config.Config, stdout io.Writer, logger *slog.Logger) error {
	types := connectorTypes()
	failed := 0
	for _, cc := range cfg.Connectors {
		c, err := types[cc.Type].Build(cc.Options, connectors.Deps{Logger: logger.With("connector", cc.Name)})
		if err != nil {
			fmt.Fprintf(stdout, "%s: cannot be built: %v\n", cc.Name, err)
			failed++
			continue
		}
		checker, ok := c.(connectors.Checker)
		if !ok {
			fmt.Fprintf(stdout, "%s: no online check for type %s\n", cc.Name, cc.Type)
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		res, err := checker.Check(cctx)
		cancel()
		switch {
		case err != nil:
			fmt.Fprintf(stdout, "%s: credentials do not work: %v\n", cc.Name, err)
			failed++
		case len(res.Missing) > 0:
			fmt.Fprintf(stdout, "%s: credentials work (as %s) but lack what the KPIs need:\n", cc.Name, res.Identity)
			for _, m := range res.Missing {
				fmt.Fprintf(stdout, "  - %s\n", m)
			}
			failed++
		default:
			fmt.Fprintf(stdout, "%s: credentials work (as %s); the permissions the KPIs need are granted\n", cc.Name, res.Identity)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(stdout, "  note: %s\n", n)
		}
	}
	if failed > 0 {
		return invalid(fmt.Errorf("online check: %d of %d connectors failed", failed, len(cfg.Connectors)))
	}
	return nil
}

func displayName(path string) string {
	if path == "-" {
		return "<stdin>"
	}
	return path
}

// cmdSync runs one sync and exits: through the running daemon when one
// holds the store, else directly on the store file.
// Progress goes to stderr: a bar on a terminal, log lines otherwise.
func cmdSync(ctx context.Context, path, connector string, full bool, ro remoteOptions, logger *slog.Logger, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	if connector != "" {
		var names []string
		for _, c := range cfg.Connectors {
			names = append(names, c.Name)
		}
		if !slices.Contains(names, connector) {
			have := "none"
			if len(names) > 0 {
				have = strings.Join(names, ", ")
			}
			return invalid(fmt.Errorf("sync --connector %q: %s has no connector of that name (it has: %s)", connector, displayName(path), have))
		}
	}
	if info, ok := runningDaemon(cfg.Storage.Path); ok {
		q := url.Values{}
		if connector != "" {
			q.Set("connector", connector)
		}
		if full {
			q.Set("full", "1")
		}
		fmt.Fprintf(stdout, "asking the running kpid at %s\n", info.URL)
		return runtimeErr(callDaemon(ctx, info, ro, http.MethodPost, "/-/sync", q, stdout))
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	progress := newSyncProgress(stderr, isTerminal(stderr), logger, time.Now, rateLimitWaits(reg))
	logger = slog.New(progress.LogHandler(logger.Handler()))
	d, err := newDaemon(cfg, nil, st, reg, logger, time.Now, progress.Page)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	progress.Start()
	err = d.Sync(ctx, connector, full)
	progress.Finish()
	if err != nil {
		return runtimeErr(err)
	}
	for _, c := range d.Connectors() {
		if connector == "" || c.Name == connector {
			fmt.Fprintf(stdout, "%s: %s, %d records in %s, %d stored\n", c.Name, c.LastResult, c.RecordsLastRun, c.LastDuration.Round(1e6), c.RecordsStored)
		}
	}
	return nil
}

// cmdRecompute re-derives every sample from the stored records (through
// the running daemon when one holds the store).
func cmdRecompute(ctx context.Context, path string, ro remoteOptions, logger *slog.Logger, stdout io.Writer) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	if info, ok := runningDaemon(cfg.Storage.Path); ok {
		fmt.Fprintf(stdout, "asking the running kpid at %s\n", info.URL)
		return runtimeErr(callDaemon(ctx, info, ro, http.MethodPost, "/-/recompute", nil, stdout))
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := newDaemon(cfg, nil, st, prometheus.NewRegistry(), logger, time.Now, nil)
	if err != nil {
		return err
	}
	if err := d.Recompute(ctx); err != nil {
		return runtimeErr(err)
	}
	fmt.Fprintln(stdout, "recompute finished")
	return nil
}

// cmdBackup writes a consistent copy of the store (through the running
// daemon when one holds it).
func cmdBackup(ctx context.Context, path, out string, ro remoteOptions, stdout io.Writer) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	if info, ok := runningDaemon(cfg.Storage.Path); ok {
		return backupViaDaemon(ctx, info, ro, out, stdout)
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return runtimeErr(fmt.Errorf("create backup %s: %w", out, err))
	}
	n, err := st.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(out)
		return runtimeErr(fmt.Errorf("write backup %s: %w", out, err))
	}
	fmt.Fprintf(stdout, "backup written to %s (%d bytes)\n", out, n)
	return nil
}

// plural writes n with the singular or plural noun.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
