// Command kpid turns GitHub, Zendesk, HubSpot and Jira into outcome KPIs
// for Prometheus. See README.md and SPEC §1 for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
)

// Exit codes (SPEC §1).
const (
	exitOK      = 0
	exitInvalid = 1 // invalid input: config, flags
	exitRuntime = 2 // runtime failure: store locked, address in use, ...
)

// exitError carries the exit code of a failure; its message is one line.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func invalid(err error) error { return &exitError{code: exitInvalid, err: err} }
func runtimeErr(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: exitRuntime, err: err}
}

// serveFlags are the flags shared by `run` and `demo`.
type serveFlags struct {
	web       *web.FlagConfig
	lifecycle *bool
	// fakeNow freezes the daemon's clock (RFC 3339), for reproducible tests.
	fakeNow *string
}

func addServeFlags(cmd *kingpin.CmdClause) serveFlags {
	return serveFlags{
		web:       kingpinflag.AddFlags(cmd, ":9820"),
		lifecycle: cmd.Flag("web.enable-lifecycle", "Enable the lifecycle endpoints: POST /-/reload, /-/sync, /-/recompute and GET /-/backup.").Default("false").Bool(),
		fakeNow:   cmd.Flag("debug.fake-now", "Freeze the KPI clock at this RFC 3339 time (tests only).").Hidden().String(),
	}
}

func main() {
	setVersion()
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// setVersion fills the version that `kpid version` and kpid_build_info
// report when the build did not set it with -ldflags: the module version
// Go recorded (v1.2.3 from `go install …@v1.2.3`, "(devel)" from a
// checkout). The revision comes from Go's VCS stamp.
func setVersion() {
	if version.Version != "" {
		return
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version.Version = bi.Main.Version
	}
}

// run is main without the process exit, for tests.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runApp(ctx, args, stdin, stdout, stderr, nil)
}

// runApp is run with a hook told the daemon's bound addresses.
func runApp(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, onListen func([]string)) int {
	app := kingpin.New("kpid", "Outcome KPIs from GitHub, Zendesk, HubSpot and Jira, for Prometheus.")
	app.HelpFlag.Short('h')
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	// kingpin "terminates" after printing help (--help, help CMD): note it
	// and return instead of running the command.
	helped := false
	app.Terminate(func(int) { helped = true })
	logCfg := &promslog.Config{}
	promslogflag.AddFlags(app, logCfg)

	runCmd := app.Command("run", "Run the daemon.").Default()
	runConfig := runCmd.Flag("config", "Config file.").Default("kpid.yaml").String()
	runServe := addServeFlags(runCmd)

	demoCmd := app.Command("demo", "Run the daemon against built-in simulators of the four APIs (no credentials, no internet).")
	demoServe := addServeFlags(demoCmd)
	demoKeep := demoCmd.Flag("demo.dir", "Directory for the demo config and store (default: a new temporary directory, removed on exit).").String()

	validateCmd := app.Command("validate", "Check a config file; print every problem as FILE:LINE: path: message.")
	validateConfig := validateCmd.Flag("config", "Config file ('-' reads standard input).").Default("kpid.yaml").String()
	validateOnline := validateCmd.Flag("online", "Also make one cheap authenticated call per connector.").Bool()

	syncCmd := app.Command("sync", "Run one sync of every (or one) connector and exit.")
	syncConfig := syncCmd.Flag("config", "Config file.").Default("kpid.yaml").String()
	syncConnector := syncCmd.Flag("connector", "Only this connector.").String()
	syncFull := syncCmd.Flag("full", "Ignore stored cursors and re-read the whole lookback.").Bool()

	recomputeCmd := app.Command("recompute", "Re-derive every sample from the stored records, with no API call.")
	recomputeConfig := recomputeCmd.Flag("config", "Config file.").Default("kpid.yaml").String()

	backupCmd := app.Command("backup", "Write a consistent copy of the store.")
	backupConfig := backupCmd.Flag("config", "Config file.").Default("kpid.yaml").String()
	backupOut := backupCmd.Flag("out", "Output file.").Required().String()

	// How sync, recompute and backup reach a running daemon with basic auth.
	var ro remoteOptions
	for _, c := range []*kingpin.CmdClause{syncCmd, recomputeCmd, backupCmd} {
		c.Flag("web.username", "Basic-auth user for a running kpid's lifecycle endpoints.").StringVar(&ro.user)
		c.Flag("web.password-file", "File holding that user's password.").StringVar(&ro.passwordFile)
	}

	opsCmds := addKPIOpsCommands(app)

	versionCmd := app.Command("version", "Print version information.")

	cmd, err := app.Parse(joinDashValues(args))
	if helped { // usage printed (--help): a missing required flag is no error then
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "kpid: %v (see kpid --help)\n", err)
		return exitInvalid
	}
	if cmd == "" {
		return exitOK
	}
	logger := promslog.New(&promslog.Config{Level: logCfg.Level, Format: logCfg.Format, Writer: stderr})

	switch cmd {
	case runCmd.FullCommand():
		err = cmdRun(ctx, *runConfig, runServe, logger, onListen)
	case demoCmd.FullCommand():
		err = cmdDemo(ctx, demoServe, *demoKeep, logger, stdout)
	case validateCmd.FullCommand():
		err = cmdValidate(ctx, *validateConfig, *validateOnline, stdin, stdout, logger)
	case syncCmd.FullCommand():
		err = cmdSync(ctx, *syncConfig, *syncConnector, *syncFull, ro, logger, stdout, stderr)
	case recomputeCmd.FullCommand():
		err = cmdRecompute(ctx, *recomputeConfig, ro, logger, stdout)
	case backupCmd.FullCommand():
		err = cmdBackup(ctx, *backupConfig, *backupOut, ro, stdout)
	case versionCmd.FullCommand():
		fmt.Fprintln(stdout, version.Print("kpid"))
	default:
		_, err = opsCmds.run(cmd, stdin, stdout, logger)
	}
	if err == nil {
		return exitOK
	}
	var ee *exitError
	code := exitRuntime
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintf(stderr, "kpid: %v\n", err)
	return code
}

// joinDashValues turns "--flag -" into "--flag=-": kingpin does not take a
// lone "-" as a flag value, and `validate --config -` reads standard input.
func joinDashValues(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		if i+1 < len(args) && args[i+1] == "-" && strings.HasPrefix(args[i], "--") && !strings.Contains(args[i], "=") {
			out = append(out, args[i]+"=-")
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}
