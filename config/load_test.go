package config

import (
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kpid/kpid/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// specEnv sets the variables the SPEC example references.
var specEnv = map[string]string{
	"GITHUB_TOKEN":  "ghp_secretgithub",
	"ZENDESK_TOKEN": "zd_secretzendesk",
	"HUBSPOT_TOKEN": "pat-secret-hubspot",
	"JIRA_TOKEN":    "jira_secret_jira",
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// parseString parses src named "t.yaml" with the fake types.
func parseString(src string, env, files map[string]string) (*Config, error) {
	return Parse("t.yaml", []byte(src), testOptions(env, files))
}

// problemLines returns the lines of a Problems error (nil for no error).
func problemLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is not Problems: %T %v", err, err)
	}
	return strings.Split(err.Error(), "\n")
}

func TestParseGoodSpecExample(t *testing.T) {
	data, err := os.ReadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("testdata/good.yaml", data, testOptions(specEnv, nil))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}

	if want := (Storage{Path: "/var/lib/kpid/kpid.db", Retention: Duration(730 * Day), OpenTimeout: Duration(5 * time.Second)}); cfg.Storage != want {
		t.Errorf("storage = %+v, want %+v", cfg.Storage, want)
	}
	if want := []string{"platform", "support", "sales"}; !reflect.DeepEqual(cfg.Teams, want) {
		t.Errorf("teams = %v, want %v", cfg.Teams, want)
	}
	wantPeople := []Person{
		{ID: "alice", Name: "Alice Smith", Team: "platform", Roles: []string{"developer"}, GitHub: "alice-gh", Jira: "5b10a2844c20165700ede21g"},
		{ID: "bob", Team: "support", Roles: []string{"support"}, Zendesk: "360012345678"},
		{ID: "carol", Team: "sales", Roles: []string{"sdr"}, HubSpot: "7788990"},
	}
	if !reflect.DeepEqual(cfg.People, wantPeople) {
		t.Errorf("people = %+v\nwant %+v", cfg.People, wantPeople)
	}

	if len(cfg.Connectors) != 4 {
		t.Fatalf("got %d connectors, want 4", len(cfg.Connectors))
	}
	gh, ok := cfg.Connectors[0].Options.(*fakeGitHub)
	if !ok {
		t.Fatalf("connectors[0].Options is %T", cfg.Connectors[0].Options)
	}
	wantCommon := Common{
		Name: "acme-github", Type: "github", Schedule: "@every 15m", BaseURL: "https://api.github.com/",
		Lookback: Duration(90 * Day), Reconcile: Duration(DefaultReconcile), MaxWait: Duration(DefaultMaxWait),
		Teams: map[string]string{"acme/api": "platform"},
	}
	if !reflect.DeepEqual(cfg.Connectors[0].Common, wantCommon) || !reflect.DeepEqual(gh.Common, wantCommon) {
		t.Errorf("github common = %+v / %+v\nwant %+v", cfg.Connectors[0].Common, gh.Common, wantCommon)
	}
	if cfg.Connectors[0].Line != 26 {
		t.Errorf("connectors[0].Line = %d, want 26", cfg.Connectors[0].Line)
	}
	if gh.Token.Value() != "ghp_secretgithub" {
		t.Errorf("github token not expanded from the environment")
	}
	if want := []string{"acme/api", "acme/web", "acme-labs/*"}; !reflect.DeepEqual(gh.Repos, want) {
		t.Errorf("repos = %v, want %v", gh.Repos, want)
	}
	if want := []string{"dependabot[bot]"}; !reflect.DeepEqual(gh.Bots, want) {
		t.Errorf("bots = %v, want %v", gh.Bots, want)
	}
	zd := cfg.Connectors[1].Options.(*fakeZendesk)
	if zd.Email != "ops@acme.com" || zd.ExportRequestsPerMinute != 10 || zd.BusinessHours ||
		!reflect.DeepEqual(zd.PriorityWeights, map[string]float64{"urgent": 3, "high": 2, "normal": 1, "low": 1}) ||
		!reflect.DeepEqual(zd.Teams, map[string]string{"360001": "support"}) {
		t.Errorf("zendesk options = %+v", zd)
	}
	hs := cfg.Connectors[2].Options.(*fakeHubSpot)
	if hs.Lookback.D() != 180*Day || hs.APIPrefix != "/crm/v3" || hs.MeetingAttribution != "owner" ||
		!reflect.DeepEqual(hs.MeetingExcludedOutcomes, []string{"CANCELED", "NO_SHOW"}) {
		t.Errorf("hubspot options = %+v", hs)
	}
	jr := cfg.Connectors[3].Options.(*fakeJira)
	if jr.JQL != "project in (ENG, OPS)" || jr.Flavor != "cloud" || jr.InProgressStatuses == nil || len(jr.InProgressStatuses) != 0 || jr.PointsField != "" {
		t.Errorf("jira options = %+v", jr)
	}

	target := 48 * 3600.0
	wantKPI := pipeline.KPI{
		ID: "pr_cycle_time", Title: "PR cycle time (median)", Measure: "github_pr_cycle_time_seconds", Stat: "p50",
		Windows: []pipeline.Window{{Name: "28d", Duration: 28 * Day}}, Target: &target, Baseline: 365 * Day,
		Direction: "lower", Category: "flow", Kind: "leading", Owner: "Engineering manager", Cadence: "weekly",
		Description: "Time from opening a PR to merging it; half of merged PRs are faster.",
		Scope:       []string{"org", "team", "person"}, Roles: []string{"developer"}, Filter: map[string]string{"repo": "acme/api"},
	}
	if len(cfg.KPIs) != 1 || !reflect.DeepEqual(cfg.KPIs[0], wantKPI) {
		t.Errorf("kpis = %+v\nwant %+v", cfg.KPIs, wantKPI)
	}
	if cfg.KPIsFromTemplates {
		t.Error("KPIsFromTemplates set although the file has kpis")
	}
	golden(t, "good.warnings", strings.Join(cfg.Warnings, "\n")+"\n")
}

func TestParseBad(t *testing.T) {
	data, err := os.ReadFile("testdata/bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("testdata/bad.yaml", data, testOptions(map[string]string{"GITHUB_TOKEN": "ghp_secretgithub"}, nil))
	if cfg != nil {
		t.Error("a config with problems must come back nil")
	}
	problemLines(t, err) // must be Problems
	golden(t, "bad.errors", err.Error()+"\n")
	if strings.Contains(err.Error(), "ghp_secretgithub") {
		t.Error("secret in the problems")
	}
}

func TestLoad(t *testing.T) {
	good, err := os.ReadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		stdin   string
		wantErr string
	}{
		{name: "file", path: "testdata/good.yaml"},
		{name: "stdin", path: "-", stdin: string(good)},
		{name: "stdin problems are named <stdin>", path: "-", stdin: "storage: {path: x}\nbogus: 1\n", wantErr: `<stdin>:2: bogus: unknown key (the top-level keys are storage, teams, people, connectors and kpis)`},
		{name: "missing file", path: "testdata/nope.yaml", wantErr: "testdata/nope.yaml: cannot read testdata/nope.yaml: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(specEnv, nil)
			o.Stdin = strings.NewReader(tt.stdin)
			cfg, err := Load(tt.path, o)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				problemLines(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.path
			if tt.path == "-" {
				want = StdinName
			}
			if cfg.File != want || len(cfg.Connectors) != 4 {
				t.Errorf("File = %q (want %q), %d connectors", cfg.File, want, len(cfg.Connectors))
			}
		})
	}
}

func TestTemplatesWhenKPIsAbsent(t *testing.T) {
	const conns = `connectors:
  - name: zd
    type: zendesk
    schedule: "@every 10m"
    email: ops@acme.com
    token: x
    lookback: 400d
  - name: zd2
    type: zendesk
    schedule: "@every 10m"
    email: ops@acme.com
    token: x
    lookback: 400d
  - name: gh
    type: github
    schedule: "@every 10m"
    token: x
    repos: [a/b]
    lookback: 400d
`
	tests := []struct {
		name          string
		src           string
		wantTypes     []string
		wantKPIs      int
		fromTemplates bool
	}{
		{name: "absent", src: conns, wantTypes: []string{"github", "zendesk"}, wantKPIs: 3, fromTemplates: true},
		{name: "null", src: conns + "kpis:\n", wantTypes: []string{"github", "zendesk"}, wantKPIs: 3, fromTemplates: true},
		{name: "empty list", src: conns + "kpis: []\n", wantTypes: nil, wantKPIs: 0, fromTemplates: false},
		{name: "no connectors", src: "teams: [a]\n", wantTypes: nil, wantKPIs: 0, fromTemplates: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotTypes []string
			called := false
			o := testOptions(nil, nil)
			o.Templates = func(types []string) []pipeline.KPI {
				called = true
				gotTypes = types
				return fakeTemplates(types)
			}
			cfg, err := Parse("t.yaml", []byte(tt.src), o)
			if err != nil {
				t.Fatal(err)
			}
			if called != tt.fromTemplates || !reflect.DeepEqual(gotTypes, tt.wantTypes) {
				t.Errorf("Templates called=%v with %v, want called=%v with %v", called, gotTypes, tt.fromTemplates, tt.wantTypes)
			}
			if len(cfg.KPIs) != tt.wantKPIs || cfg.KPIsFromTemplates != tt.fromTemplates {
				t.Errorf("%d KPIs, fromTemplates=%v; want %d, %v", len(cfg.KPIs), cfg.KPIsFromTemplates, tt.wantKPIs, tt.fromTemplates)
			}
			if len(cfg.Warnings) != 0 {
				t.Errorf("templates must be lint-clean, got %q", cfg.Warnings)
			}
		})
	}
	// nil Templates: no KPIs, no panic
	o := testOptions(nil, nil)
	o.Templates = nil
	cfg, err := Parse("t.yaml", []byte(conns), o)
	if err != nil || len(cfg.KPIs) != 0 || !cfg.KPIsFromTemplates {
		t.Errorf("nil Templates: cfg=%+v err=%v", cfg, err)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := parseString("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Storage{Path: DefaultStoragePath, Retention: Duration(DefaultRetention), OpenTimeout: Duration(DefaultOpenTimeout)}
	if cfg.Storage != want {
		t.Errorf("storage = %+v, want %+v", cfg.Storage, want)
	}
	if DefaultRetention != 730*Day || DefaultLookback != 90*Day || DefaultReconcile != 24*time.Hour || DefaultMaxWait != 15*time.Minute || DefaultOpenTimeout != 5*time.Second {
		t.Error("defaults differ from SPEC §2")
	}
	// a type's own default (set by New) wins over the common default
	o := testOptions(nil, nil)
	o.Types["hubspot"] = ConnectorType{New: func() any { return &fakeHubSpot{Common: Common{Lookback: Duration(180 * Day)}} }}
	cfg, err = Parse("t.yaml", []byte("connectors:\n  - {name: hs, type: hubspot, schedule: '@hourly', token: x}\n"), o)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Connectors[0].Common
	if c.Lookback.D() != 180*Day || c.Reconcile.D() != DefaultReconcile || c.MaxWait.D() != DefaultMaxWait {
		t.Errorf("common = %+v", c)
	}
}

// TestYAMLSyntaxErrorLines: a YAML syntax error is located on the line of
// the file as written (1-based, like every other problem). yaml.v3 reports
// its parser errors with a 0-based line and unknown anchors with none.
func TestYAMLSyntaxErrorLines(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unclosed flow sequence", "storage:\n  path: x\nteams: [a, b\npeople: []\n",
			`t.yaml:3: invalid YAML: did not find expected ',' or ']'`},
		{"${VAR} in a flow mapping", "teams: [a]\npeople:\n  - {id: a, team: ${T}}\n",
			`t.yaml:3: invalid YAML: did not find expected ',' or '}'`},
		{"bad indentation", "storage:\n  path: a\n bad\n",
			`t.yaml:3: invalid YAML: did not find expected key`},
		{"sequence after a mapping", "storage:\n  path: x\nteams: [a]\n- foo\n",
			`t.yaml:4: invalid YAML: did not find expected key`},
		// scanner errors were already right: they stay so
		{"mapping value in a plain scalar", "storage:\n  path: x\nteams: a: b\n",
			`t.yaml:3: invalid YAML: mapping values are not allowed in this context`},
		{"unterminated quote", "storage:\n  path: x\npeople:\n  - id: \"a\n",
			`t.yaml:4: invalid YAML: found unexpected end of stream`},
		{"unknown anchor", "storage:\n  path: x # not *nope\nteams: [a, *nope]\n",
			`t.yaml:3: invalid YAML: unknown anchor 'nope' referenced`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseString(tt.src, nil, nil)
			if got := problemLines(t, err); len(got) != 1 || got[0] != tt.want {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

// fakeAppGitHub has a plain-path *_file key, like the real github
// connector's private_key_file (read by the connector, not at load).
type fakeAppGitHub struct {
	Common         `yaml:",inline"`
	AppID          int64    `yaml:"app_id"`
	PrivateKeyFile string   `yaml:"private_key_file"`
	Repos          []string `yaml:"repos"`
}

// TestUnreadableFileKey: every *_file key naming a file that cannot be read
// is a problem on its line (SPEC §2), not only the X_file of a Secret.
func TestUnreadableFileKey(t *testing.T) {
	o := testOptions(nil, map[string]string{"/run/secrets/app.pem": "PEM"})
	o.Types = map[string]ConnectorType{"github": {New: func() any { return &fakeAppGitHub{} }}}
	src := "connectors:\n" +
		"  - {name: a, type: github, schedule: '@hourly', app_id: 1, private_key_file: /run/secrets/app.pem, repos: [a/b]}\n" +
		"  - name: b\n    type: github\n    schedule: '@hourly'\n    app_id: 1\n    private_key_file: /run/secrets/nope.pem\n    repos: [a/b]\n"
	_, err := Parse("t.yaml", []byte(src), o)
	want := []string{`t.yaml:7: connectors[1].private_key_file: cannot read /run/secrets/nope.pem: file does not exist`}
	if got := problemLines(t, err); !equalLines(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
