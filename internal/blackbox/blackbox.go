// Package blackbox runs the real kpid binary against hand-written fakes of
// the upstream APIs and reads its /metrics, the way an outside acceptance
// suite would: the fakes are written from the providers' documentation (not
// from kpid's simulators), and the expected KPI values are worked out by
// hand from SPEC. Each connector's tests live in a sub-package.
package blackbox

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// Binary builds kpid once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		// The build runs in a child process, which go test's result cache
		// does not see: reading the sources here makes them part of the
		// cached result's key, so a change to kpid reruns these tests.
		if err := readSources(); err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "kpid-blackbox-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "kpid")
		out, err := exec.Command("go", "build", "-o", builtBin, "github.com/kpid/kpid/cmd/kpid").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build kpid: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// readSources reads every Go source, go.mod and go.sum of the module.
func readSources() error {
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("find the module root: %w", err)
	}
	dir := strings.TrimSpace(string(root))
	return filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := e.Name()
		if e.IsDir() {
			if path != dir && (name == "testdata" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum" {
			_, err := os.ReadFile(path)
			return err
		}
		return nil
	})
}

// Daemon is a running `kpid run`.
type Daemon struct {
	Base    string // http://127.0.0.1:PORT
	logPath string
	cmd     *exec.Cmd
}

var listenRe = regexp.MustCompile(`msg=listening address=(\S+)`)

// Start writes config (a YAML document without a storage section: one is
// added, pointing at a new store in a temporary directory) and runs
// `kpid run` on it with its KPI clock frozen at now, until the test ends.
func Start(t testing.TB, config string, now time.Time) *Daemon {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kpid.yaml")
	config = "storage:\n  path: " + filepath.Join(dir, "kpid.db") + "\n" + config
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "kpid.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Binary(t), "run", "--config", cfgPath,
		"--web.listen-address=127.0.0.1:0", "--log.level=debug",
		"--debug.fake-now="+now.UTC().Format(time.RFC3339))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	d := &Daemon{logPath: logPath, cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("kpid log:\n%s", d.Log())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRe.FindStringSubmatch(d.Log()); m != nil {
			d.Base = "http://" + m[1]
			return d
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("kpid did not start listening:\n%s", d.Log())
	return nil
}

// Log returns what kpid logged so far.
func (d *Daemon) Log() string {
	b, _ := os.ReadFile(d.logPath)
	return string(b)
}

// WaitSynced waits until every named connector has finished a sync (with
// success or error) and returns the metrics scraped then. It fails the test
// when a connector's first sync ended in an error.
func (d *Daemon) WaitSynced(t testing.TB, connectors ...string) Metrics {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		m := d.Scrape(t)
		done := true
		for _, c := range connectors {
			if m.Value("kpid_connector_syncs_total", "connector", c, "result", "error") > 0 {
				t.Fatalf("connector %s: first sync failed:\n%s", c, d.Log())
			}
			if m.Value("kpid_connector_syncs_total", "connector", c, "result", "success") < 1 {
				done = false
			}
		}
		if done {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("connectors %v did not finish a sync:\n%s", connectors, d.Log())
	return nil
}

// Scrape reads /metrics.
func (d *Daemon) Scrape(t testing.TB) Metrics {
	t.Helper()
	resp, err := http.Get(d.Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	m := Metrics{}
	for name, f := range fams {
		for _, x := range f.GetMetric() {
			m[Key(name, labelPairs(x)...)] = value(f.GetType(), x)
		}
	}
	return m
}

func labelPairs(x *dto.Metric) []string {
	var kv []string
	for _, l := range x.GetLabel() {
		if l.GetValue() != "" {
			kv = append(kv, l.GetName(), l.GetValue())
		}
	}
	return kv
}

func value(t dto.MetricType, x *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return x.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return x.GetGauge().GetValue()
	case dto.MetricType_UNTYPED:
		return x.GetUntyped().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(x.GetHistogram().GetSampleCount())
	}
	return 0
}

// Metrics maps a series key (Key) to its value.
type Metrics map[string]float64

// Key names one series: name{k1="v1",k2="v2"} with the labels sorted and
// empty ones left out (Prometheus treats an empty label as absent).
func Key(name string, kv ...string) string {
	var pairs []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			pairs = append(pairs, fmt.Sprintf("%s=%q", kv[i], kv[i+1]))
		}
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// Lookup returns the value of the series whose labels are exactly the
// self-metric or KPI labels given (for kpid_* families, the `type` label
// may be left out).
func (m Metrics) Lookup(name string, kv ...string) (float64, bool) {
	if v, ok := m[Key(name, kv...)]; ok {
		return v, true
	}
	for k, v := range m {
		if !strings.HasPrefix(k, name+"{") {
			continue
		}
		if matches(k, name, kv) {
			return v, true
		}
	}
	return 0, false
}

// Value is Lookup's value (0 when absent).
func (m Metrics) Value(name string, kv ...string) float64 {
	v, _ := m.Lookup(name, kv...)
	return v
}

// matches reports whether the series key k of family name holds every
// label of kv and, besides them, at most a `type` label.
func matches(k, name string, kv []string) bool {
	body := strings.TrimSuffix(strings.TrimPrefix(k, name+"{"), "}")
	want := map[string]bool{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			want[fmt.Sprintf("%s=%q", kv[i], kv[i+1])] = true
		}
	}
	found := 0
	for _, pair := range splitPairs(body) {
		switch {
		case want[pair]:
			found++
		case strings.HasPrefix(pair, "type="):
		default:
			return false
		}
	}
	return found == len(want)
}

// splitPairs splits `a="x",b="y"` at the commas between pairs.
func splitPairs(body string) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, body[start:i])
				start = i + 1
			}
		}
	}
	if start < len(body) {
		out = append(out, body[start:])
	}
	return out
}

// KPI returns the kpi_* series of one KPI, keyed by Key, for comparisons
// with a whole expected set.
func (m Metrics) KPI(id string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, "kpi_") && !strings.HasPrefix(k, "kpi_info{") && strings.Contains(k, fmt.Sprintf("kpi=%q", id)) {
			out[k] = v
		}
	}
	return out
}
