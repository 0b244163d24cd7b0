package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kpid/kpid/internal/blackbox"
	"github.com/kpid/kpid/internal/sim"
	"github.com/kpid/kpid/internal/sim/githubsim"
	"github.com/kpid/kpid/internal/sim/hubspotsim"
	"github.com/kpid/kpid/internal/sim/jirasim"
	"github.com/kpid/kpid/internal/sim/zendesksim"
)

// daemonProc is a real kpid process.
type daemonProc struct {
	cmd    *exec.Cmd
	stderr string
	base   string
}

var listenRe = regexp.MustCompile(`msg=listening address=(\S+)`)

// startKpid starts `kpid run` on config and waits until it listens.
func startKpid(t *testing.T, bin, config, logName string, extra ...string) *daemonProc {
	t.Helper()
	p := launchKpid(t, bin, config, logName, extra...)
	p.waitListening(t)
	return p
}

// launchKpid starts `kpid run` on config (logging to logName next to it)
// without waiting for it to listen.
func launchKpid(t *testing.T, bin, config, logName string, extra ...string) *daemonProc {
	t.Helper()
	logPath := filepath.Join(filepath.Dir(config), logName)
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--config", config, "--web.listen-address=127.0.0.1:0", "--debug.fake-now=" + simNow.Format(time.RFC3339)}
	if !strings.Contains(strings.Join(extra, " "), "--log.level") {
		args = append(args, "--log.level=info")
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logf
	cmd.Stdout = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return &daemonProc{cmd: cmd, stderr: logPath}
}

// waitListening waits for the "listening" log line and sets p.base.
func (p *daemonProc) waitListening(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(p.stderr)
		if m := listenRe.FindSubmatch(b); m != nil {
			p.base = "http://" + string(m[1])
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(p.stderr)
	t.Fatalf("kpid did not start listening:\n%s", b)
}

// log returns what the process wrote so far.
func (p *daemonProc) log() string {
	b, _ := os.ReadFile(p.stderr)
	return string(b)
}

// simOptions customise startSimsWith.
type simOptions struct {
	// wrap, when set, is put in front of each simulator's handler.
	wrap func(connector string, h http.Handler) http.Handler
	// setup runs after the simulators are built and before their config
	// entries are written (e.g. to set their credentials).
	setup func(*simSet)
}

// startSimsWith starts the four simulators on loopback.
func startSimsWith(t *testing.T, o simOptions) *simSet {
	t.Helper()
	c := sim.Acme()
	s := &simSet{
		github:  githubsim.New(c, simNow, demoSeed),
		zendesk: zendesksim.New(c, simNow, demoSeed),
		hubspot: hubspotsim.New(c, simNow, demoSeed),
		jira:    jirasim.New(c, simNow, demoSeed),
	}
	if o.setup != nil {
		o.setup(s)
	}
	var y strings.Builder
	for _, x := range []struct {
		name string
		srv  demoSim
	}{{"acme-github", s.github}, {"acme-zendesk", s.zendesk}, {"acme-hubspot", s.hubspot}, {"acme-jira", s.jira}} {
		var h http.Handler = x.srv
		if o.wrap != nil {
			h = o.wrap(x.name, h)
		}
		url, stop, err := startSim(h)
		if err != nil {
			t.Fatal(err)
		}
		s.stops = append(s.stops, stop)
		y.WriteString(x.srv.DemoConnectorYAML(x.name, url))
	}
	s.yaml = y.String()
	t.Cleanup(s.close)
	return s
}

// kpiLines returns the sorted kpi_* sample lines of an exposition.
func kpiLines(body string) []string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "kpi_") {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// storeLines returns the sorted lines that count what the store holds:
// records per connector and samples per measure.
func storeLines(body string) []string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "kpid_store_records{") || strings.HasPrefix(l, "kpid_store_samples{") {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func recordsCommitted(body string) float64 {
	total := 0.0
	for _, c := range allConnectors {
		v, _ := metricValue(body, `kpid_connector_records_total{connector="`+c+`",type="`+strings.TrimPrefix(c, "acme-")+`"}`)
		total += v
	}
	return total
}

// syncsPending counts connectors whose first sync has not finished yet.
func syncsPending(body string) int {
	n := 0
	for _, c := range allConnectors {
		v, _ := metricValue(body, `kpid_connector_syncs_total{connector="`+c+`",result="success",type="`+strings.TrimPrefix(c, "acme-")+`"}`)
		if v < 1 {
			n++
		}
	}
	return n
}

// killSwitch sits in front of the simulators. Armed with a simulator and a
// number n, it SIGKILLs the daemon when that simulator receives the n-th
// request of the daemon's current incarnation, before answering it: the
// daemon dies with that connector's sync in flight, wherever the other
// three connectors are.
type killSwitch struct {
	mu     sync.Mutex
	target string
	at     int
	counts map[string]int
	proc   *os.Process
	ready  chan struct{} // closed once proc is set
	fired  chan struct{}
}

// arm prepares a kill at the at-th request to target (at 0: no request
// kill) and resets the per-incarnation counts; setProc names the victim.
func (k *killSwitch) arm(target string, at int) <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.target, k.at = target, at
	k.counts = map[string]int{}
	k.proc = nil
	k.ready = make(chan struct{})
	k.fired = make(chan struct{})
	return k.fired
}

func (k *killSwitch) setProc(p *os.Process) {
	k.mu.Lock()
	k.proc = p
	close(k.ready)
	k.mu.Unlock()
}

// disarm stops request kills; it reports whether the kill already fired.
func (k *killSwitch) disarm() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.at = 0
	select {
	case <-k.fired:
		return true
	default:
		return false
	}
}

// requests returns this incarnation's request count per simulator.
func (k *killSwitch) requests() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[string]int, len(k.counts))
	for n, c := range k.counts {
		out[n] = c
	}
	return out
}

func (k *killSwitch) wrap(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		if k.counts == nil {
			k.counts = map[string]int{}
		}
		k.counts[name]++
		hit := k.at > 0 && name == k.target && k.counts[name] == k.at
		ready, fired := k.ready, k.fired
		if hit {
			k.at = 0
		}
		k.mu.Unlock()
		if !hit {
			h.ServeHTTP(w, r)
			return
		}
		<-ready
		k.mu.Lock()
		p := k.proc
		k.mu.Unlock()
		_ = p.Signal(syscall.SIGKILL)
		close(fired)
		// Never answer: hold the request until the dead daemon's
		// connection closes, then drop it.
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		panic(http.ErrAbortHandler)
	})
}

// killPoint is where one incarnation of the daemon is killed: at the
// at-th request to a simulator, or once it has committed records records.
type killPoint struct {
	sim     string
	at      int
	records float64
}

func (k killPoint) String() string {
	if k.sim != "" {
		return fmt.Sprintf("request %d to %s", k.at, k.sim)
	}
	return fmt.Sprintf("%v records committed", k.records)
}

// killPlan spreads n kill points over the four connectors' syncs: four in
// five at the n-th request to one simulator (rotating over the four, at
// request numbers spread over what one incarnation's sync makes), one in
// five after a number of committed records.
func killPlan(n int) []killPoint {
	// Roughly the requests of one full sync of the demo company per
	// simulator (GitHub: pulls, reviews, deployments, statuses, compares).
	span := map[string]int{"acme-github": 120, "acme-zendesk": 3, "acme-hubspot": 3, "acme-jira": 6}
	records := []float64{1, 40, 120, 250, 400}
	var plan []killPoint
	for i := 0; i < n; i++ {
		if i%5 == 4 {
			plan = append(plan, killPoint{records: records[(i/5)%len(records)]})
			continue
		}
		name := allConnectors[(i-i/5)%len(allConnectors)]
		plan = append(plan, killPoint{sim: name, at: 1 + (i*37)%span[name]})
	}
	return plan
}

// killBudget is the number of kill points: KPID_KILL_POINTS, default 20.
func killBudget(t *testing.T) int {
	t.Helper()
	v := os.Getenv("KPID_KILL_POINTS")
	if v == "" {
		return 20
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("KPID_KILL_POINTS=%q: want a positive number", v)
	}
	return n
}

// TestKillDuringSyncGivesSameMetrics kills the daemon with SIGKILL at many
// points of its syncs (KPID_KILL_POINTS, default 20, spread over all four
// connectors), restarts it each time, and checks that the KPIs and the
// store's record and sample counts equal an uninterrupted run's: no record
// lost, no sample doubled.
func TestKillDuringSyncGivesSameMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := blackbox.Binary(t)
	plan := killPlan(killBudget(t))

	// Reference: one uninterrupted run on a fresh store.
	began := time.Now()
	refSims := startSims(t)
	refDir := t.TempDir()
	ref := startKpid(t, bin, writeDemoConfig(t, refDir, refSims), "ref.log")
	refBody := waitSynced(t, ref.base, allConnectors, 60*time.Second)
	want, wantStore := kpiLines(refBody), storeLines(refBody)
	_ = ref.cmd.Process.Signal(syscall.SIGTERM)
	_ = ref.cmd.Wait()
	t.Logf("reference run synced in %s", time.Since(began).Round(time.Millisecond))
	if len(want) < 100 || len(wantStore) < 4 {
		t.Fatalf("reference run exposes only %d kpi lines and %d store lines", len(want), len(wantStore))
	}

	// Interrupted: same data, slow upstreams, killed at every point.
	ks := &killSwitch{}
	sims := startSimsWith(t, simOptions{wrap: ks.wrap})
	dir := t.TempDir()
	cfg := writeDemoConfig(t, dir, sims)
	for _, r := range sims.recorders() {
		r.SetLatency(2 * time.Millisecond)
	}
	// Each incarnation's pacer starts afresh: Zendesk's export budget of 10
	// requests a minute would make the loop wait out 429s for minutes.
	sims.zendesk.SetExportRateLimit(10_000)
	var midSync, firstLoad, afterSync int
	loaded := map[string]bool{} // connectors that finished a sync on this store
	// Requests a whole incremental sync makes, per simulator, learnt from
	// runs that ended before their kill point: later request kill points
	// are folded into that range so that they still land mid-sync.
	whole := map[string]int{}
	for i, kp := range plan {
		if n := whole[kp.sim]; n > 0 && kp.at > n {
			kp.at = 1 + (kp.at-1)%n
		}
		began := time.Now()
		fired := ks.arm(kp.sim, kp.at)
		p := launchKpid(t, bin, cfg, fmt.Sprintf("killed-%02d.log", i))
		ks.setProc(p.cmd.Process)
		landed := killAt(t, p, kp, ks, fired)
		_ = p.cmd.Wait()
		finishedSyncs(p.log(), loaded)
		if landed {
			midSync++
			if len(loaded) < len(allConnectors) {
				firstLoad++
			}
		} else {
			afterSync++
			for name, n := range ks.requests() {
				if whole[name] == 0 || n < whole[name] {
					whole[name] = n
				}
			}
		}
		t.Logf("kill %2d at %s: mid-sync=%v after %s, requests this run %v", i, kp, landed, time.Since(began).Round(time.Millisecond), ks.requests())
	}
	t.Logf("%d kill points: %d landed mid-sync (%d while the first load was incomplete), %d after every sync had ended",
		len(plan), midSync, firstLoad, afterSync)
	if midSync < len(plan)*3/4 {
		t.Fatalf("only %d of %d kills landed in the middle of a sync: the test proves too little", midSync, len(plan))
	}

	for _, r := range sims.recorders() {
		r.SetLatency(0)
	}
	final := startKpid(t, bin, cfg, "final.log")
	finalBody := waitSynced(t, final.base, allConnectors, 60*time.Second)
	_ = final.cmd.Process.Signal(syscall.SIGTERM)
	if err := final.cmd.Wait(); err != nil {
		t.Errorf("kpid did not exit cleanly on SIGTERM: %v", err)
	}
	diffLines(t, "KPIs", want, kpiLines(finalBody))
	diffLines(t, "store counts", wantStore, storeLines(finalBody))
}

// killAt kills p at kp and reports whether the kill landed while a sync
// was running. A request kill point is the switch's; when that request
// never comes (the simulator's sync in this run needed fewer), the daemon
// is killed once its syncs are over.
func killAt(t *testing.T, p *daemonProc, kp killPoint, ks *killSwitch, fired <-chan struct{}) bool {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-fired:
			return true // the target's request was in flight, unanswered
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kill at %s never happened:\n%s", kp, p.log())
		}
		if p.base == "" {
			if m := listenRe.FindStringSubmatch(p.log()); m != nil {
				p.base = "http://" + m[1]
			}
		}
		body := ""
		if p.base != "" {
			body, _ = scrape(p.base + "/metrics")
		}
		if body != "" {
			pending := syncsPending(body)
			if kp.sim == "" && (recordsCommitted(body) >= kp.records || pending == 0) {
				_ = p.cmd.Process.Signal(syscall.SIGKILL)
				return pending > 0
			}
			if kp.sim != "" && pending == 0 {
				if ks.disarm() {
					return true
				}
				_ = p.cmd.Process.Signal(syscall.SIGKILL)
				return false
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var syncFinishedRe = regexp.MustCompile(`msg="sync finished" connector=(\S+)`)

// finishedSyncs adds to done the connectors whose sync finished in log.
func finishedSyncs(log string, done map[string]bool) {
	for _, m := range syncFinishedRe.FindAllStringSubmatch(log, -1) {
		done[m[1]] = true
	}
}

// diffLines reports lines missing from got and lines got has in excess.
func diffLines(t *testing.T, what string, want, got []string) {
	t.Helper()
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return
	}
	wantSet := map[string]bool{}
	for _, l := range want {
		wantSet[l] = true
	}
	gotSet := map[string]bool{}
	for _, l := range got {
		gotSet[l] = true
	}
	n := 0
	for _, l := range want {
		if !gotSet[l] && n < 20 {
			t.Errorf("%s: missing after kills: %s", what, l)
			n++
		}
	}
	for _, l := range got {
		if !wantSet[l] && n < 40 {
			t.Errorf("%s: extra after kills:   %s", what, l)
			n++
		}
	}
}
