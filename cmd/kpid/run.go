package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/kpid/kpid/config"
	"github.com/kpid/kpid/internal/daemon"
	"github.com/kpid/kpid/internal/server"
	"github.com/kpid/kpid/internal/store"
)

func cmdRun(ctx context.Context, path string, sf serveFlags, logger *slog.Logger, onListen func([]string)) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, func() (*config.Config, error) { return config.Load(path, loadOptions()) }, sf, logger, onListen)
}

// openStore opens the configured store; failures are runtime errors.
func openStore(cfg *config.Config) (*store.Store, error) {
	st, err := store.Open(store.Options{Path: cfg.Storage.Path, OpenTimeout: cfg.Storage.OpenTimeout.D()})
	return st, runtimeErr(err)
}

// newDaemon builds a daemon over an open store.
// onPage (may be nil) hears of every committed page, for progress reports.
func newDaemon(cfg *config.Config, load func() (*config.Config, error), st *store.Store, reg *prometheus.Registry, logger *slog.Logger, now func() time.Time, onPage func(connector string, records, requests int)) (*daemon.Daemon, error) {
	for _, w := range cfg.Warnings {
		logger.Warn("config lint: " + w)
	}
	d, err := daemon.New(daemon.Options{
		Config:   cfg,
		Load:     load,
		Types:    connectorTypes(),
		Store:    st,
		Registry: reg,
		Logger:   logger,
		Now:      now,
		OnPage:   onPage,
	})
	return d, runtimeErr(err)
}

// clock is the daemon's clock: real, or frozen by --debug.fake-now.
func (sf serveFlags) clock() (func() time.Time, error) {
	if sf.fakeNow == nil || *sf.fakeNow == "" {
		return time.Now, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *sf.fakeNow)
	if err != nil {
		return nil, invalid(fmt.Errorf("parse --debug.fake-now: %w", err))
	}
	return func() time.Time { return t }, nil
}

// serve runs the daemon and its HTTP server until SIGTERM/SIGINT (or ctx).
// onListen gets the bound addresses.
func serve(ctx context.Context, cfg *config.Config, load func() (*config.Config, error), sf serveFlags, logger *slog.Logger, onListen func([]string)) error {
	// exporter-toolkit reads the web config only once the listeners are up,
	// and a bad one would leave a daemon that never serves: check it first.
	if path := *sf.web.WebConfigFile; path != "" {
		if err := web.Validate(path); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) && pe.Path == path {
				err = pe.Err
			}
			return invalid(fmt.Errorf("load --web.config.file %s: %w", path, err))
		}
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	now, err := sf.clock()
	if err != nil {
		return err
	}
	d, err := newDaemon(cfg, load, st, reg, logger, now, nil)
	if err != nil {
		return err
	}
	d.MarkConfigLoaded()

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				logger.Info("sighup: reloading config")
				_ = d.Reload() // logged and reflected in kpid_config_last_reload_successful
			case <-ctx.Done():
				return
			}
		}
	}()

	h := server.Handler(server.Options{Daemon: d, Gatherer: reg, Lifecycle: *sf.lifecycle, Logger: logger, Backup: st.WriteTo})
	srvErr := make(chan error, 1)
	listening := make(chan struct{})
	var bound []string
	go func() {
		srvErr <- server.Serve(ctx, h, sf.web, logger, func(addrs []string) {
			bound = addrs
			for _, a := range addrs {
				logger.Info("listening", "address", a)
			}
			if onListen != nil {
				onListen(addrs)
			}
			close(listening)
		})
	}()
	var addrs []string
	select {
	case err := <-srvErr:
		return runtimeErr(fmt.Errorf("start http server: %w", err))
	case <-listening:
		addrs = bound
	}
	if len(addrs) > 0 {
		remove, err := writeDaemonInfo(cfg.Storage.Path, addrs[0], sf)
		if err != nil {
			logger.Warn("kpid sync/recompute/backup will not find this daemon", "err", err)
		}
		defer remove()
	}

	if err := d.Prepare(); err != nil {
		stop()
		<-srvErr
		return runtimeErr(err)
	}
	// an HTTP server that stops on its own stops the daemon: no headless run
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	httpErr := make(chan error, 1)
	go func() {
		err := <-srvErr
		if err != nil {
			cancelRun()
		}
		httpErr <- err
	}()
	runErr := d.Run(runCtx)
	stop()
	if err := <-httpErr; err != nil {
		if runErr == nil {
			runErr = fmt.Errorf("serve http: %w", err)
		} else {
			logger.Error("http server", "err", err)
		}
	}
	logger.Info("stopped")
	return runtimeErr(runErr)
}
