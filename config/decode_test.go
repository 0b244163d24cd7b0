package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func TestExpandEnv(t *testing.T) {
	env := fakeEnv(map[string]string{"A": "alpha", "EMPTY": "", "B_2": "beta"})
	tests := []struct {
		in       string
		want     string
		wantErrs []string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha"},
		{in: "x-${A}-${B_2}-y", want: "x-alpha-beta-y"},
		{in: "${UNSET:-fallback}", want: "fallback"},
		{in: "${A:-fallback}", want: "alpha"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${EMPTY}", want: ""},
		{in: "${UNSET:-}", want: ""},
		{in: "${UNSET:-a b:c}", want: "a b:c"},
		{in: "$$", want: "$"},
		{in: "$${A}", want: "${A}"},
		{in: "price $5 and $A", want: "price $5 and $A"},
		{in: "trailing $", want: "trailing $"},
		{in: "${UNSET}", wantErrs: []string{"environment variable UNSET is not set"}},
		{in: "${U1}/${U2}", wantErrs: []string{"environment variable U1 is not set", "environment variable U2 is not set"}},
		{in: "${A", wantErrs: []string{"unterminated variable reference: want ${NAME} or ${NAME:-default} ($$ is a literal $)"}},
		{in: "${}", wantErrs: []string{"invalid variable reference: want ${NAME} or ${NAME:-default} ($$ is a literal $)"}},
		{in: "${1A}", wantErrs: []string{"invalid variable reference: want ${NAME} or ${NAME:-default} ($$ is a literal $)"}},
		{in: "${A-x}", wantErrs: []string{"invalid variable reference: want ${NAME} or ${NAME:-default} ($$ is a literal $)"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, errs := expandEnv(tt.in, env)
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			if !reflect.DeepEqual(msgs, tt.wantErrs) {
				t.Fatalf("errors = %q, want %q", msgs, tt.wantErrs)
			}
			if tt.wantErrs == nil && got != tt.want {
				t.Errorf("expandEnv(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// ghConfig is a one-connector config; extra lines are added to the entry
// (indented by 4 spaces) after line 4.
func ghConfig(extra ...string) string {
	var b strings.Builder
	b.WriteString("connectors:\n  - name: gh\n    type: github\n    schedule: \"@every 15m\"\n")
	for _, e := range extra {
		b.WriteString("    " + e + "\n")
	}
	return b.String()
}

func TestEnvInConfig(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		env   map[string]string
		want  []string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "unset variable: one problem at its line, no echo as missing token",
			src:  ghConfig("repos: [a/b]", "token: ${GITHUB_TOKEN}"),
			want: []string{"t.yaml:6: connectors[0].token: environment variable GITHUB_TOKEN is not set"},
		},
		{
			name: "default used when unset",
			src:  ghConfig("repos: [a/b]", "token: x", "min_remaining: ${MIN_REMAINING:-100}", "lookback: ${LOOKBACK:-400d}"),
			check: func(t *testing.T, c *Config) {
				if c.Connectors[0].MinRemaining != 100 || c.Connectors[0].Lookback.D() != 400*Day {
					t.Errorf("common = %+v", c.Connectors[0].Common)
				}
			},
		},
		{
			name: "value from the environment decodes into typed fields",
			src:  ghConfig("repos: ['${ORG}/api']", "token: x", "insecure_skip_verify: ${INSECURE}"),
			env:  map[string]string{"ORG": "acme", "INSECURE": "true"},
			check: func(t *testing.T, c *Config) {
				o := c.Connectors[0].Options.(*fakeGitHub)
				if o.Repos[0] != "acme/api" || !o.InsecureSkipVerify {
					t.Errorf("options = %+v", o)
				}
			},
		},
		{
			name: "expanded value is checked",
			src:  ghConfig("repos: [a/b]", "token: x", "lookback: ${LOOKBACK}", "min_remaining: ${MIN}"),
			env:  map[string]string{"LOOKBACK": "ninety days", "MIN": "lots"},
			want: []string{
				`t.yaml:7: connectors[0].lookback: invalid duration "ninety days": want a number followed by a unit (ns, us, ms, s, m, h, d, w), e.g. 90d, 36h, 15m`,
				`t.yaml:8: connectors[0].min_remaining: invalid integer "lots"`,
			},
		},
		{
			name: "dollar escape",
			src:  ghConfig("repos: [a/b]", "token: x", "base_url: https://h/$$x"),
			check: func(t *testing.T, c *Config) {
				if c.Connectors[0].BaseURL != "https://h/$x" {
					t.Errorf("base_url = %q", c.Connectors[0].BaseURL)
				}
			},
		},
		{
			name: "every scalar is expanded: storage, people, kpis",
			src: "storage: {path: '${DATA}/kpid.db'}\npeople:\n  - {id: '${WHO}', github: 'gh-${WHO}'}\n" +
				ghConfig("repos: [a/b]", "token: x", "lookback: 400d") +
				"kpis:\n  - {id: merged, measure: github_pr_merged, stat: count, window: '${WIN:-28d}', target: 5, owner: me, cadence: weekly}\n",
			env: map[string]string{"DATA": "/data", "WHO": "alice"},
			check: func(t *testing.T, c *Config) {
				if c.Storage.Path != "/data/kpid.db" || c.People[0].ID != "alice" || c.People[0].GitHub != "gh-alice" || c.KPIs[0].Windows[0].Name != "28d" {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "keys are not expanded",
			src:  ghConfig("repos: [a/b]", "token: x", "teams: {'${X}': '${X:-core}'}"),
			check: func(t *testing.T, c *Config) {
				if !reflect.DeepEqual(c.Connectors[0].Teams, map[string]string{"${X}": "core"}) {
					t.Errorf("teams = %v", c.Connectors[0].Teams)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseString(tt.src, tt.env, nil)
			if got := problemLines(t, err); !equalLines(got, tt.want) {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

func TestSecretFiles(t *testing.T) {
	files := map[string]string{
		"/run/secrets/gh":    "  ghp_fromfile\n",
		"/run/secrets/empty": " \n\t",
		"/run/secrets/key":   "-----BEGIN KEY-----\nabc\n-----END KEY-----\n",
	}
	tests := []struct {
		name      string
		extra     []string
		env       map[string]string
		want      []string
		wantToken string
	}{
		{name: "read and trimmed", extra: []string{"token_file: /run/secrets/gh"}, wantToken: "ghp_fromfile"},
		{name: "path from the environment", extra: []string{"token_file: ${TOKEN_FILE}"}, env: map[string]string{"TOKEN_FILE": "/run/secrets/gh"}, wantToken: "ghp_fromfile"},
		{name: "direct value", extra: []string{"token: ghp_direct"}, wantToken: "ghp_direct"},
		{
			name:  "unreadable: names the file, once",
			extra: []string{"token_file: /run/secrets/nope"},
			want:  []string{"t.yaml:6: connectors[0].token_file: cannot read /run/secrets/nope: file does not exist"},
		},
		{
			name:  "empty file",
			extra: []string{"token_file: /run/secrets/empty"},
			want:  []string{"t.yaml:6: connectors[0].token_file: file /run/secrets/empty is empty"},
		},
		{
			name:  "both given",
			extra: []string{"token: ghp_direct", "token_file: /run/secrets/gh"},
			want:  []string{"t.yaml:7: connectors[0].token_file: token and token_file are mutually exclusive (token is set at line 6)"},
		},
		{
			name:  "unset variable in the path",
			extra: []string{"token_file: ${TOKEN_FILE}"},
			want:  []string{"t.yaml:6: connectors[0].token_file: environment variable TOKEN_FILE is not set"},
		},
		{
			name:  "not a scalar",
			extra: []string{"token_file: [a]"},
			want:  []string{"t.yaml:6: connectors[0].token_file: expected a file path, got a list"},
		},
		{
			name:  "every Secret field takes _file, in inline and outer structs",
			extra: []string{"token: x", "private_key_file: /run/secrets/key"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := ghConfig(append([]string{"repos: [a/b]"}, tt.extra...)...)
			cfg, err := parseString(src, tt.env, files)
			if got := problemLines(t, err); !equalLines(got, tt.want) {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err != nil {
				return
			}
			o := cfg.Connectors[0].Options.(*fakeGitHub)
			if tt.wantToken != "" && o.Token.Value() != tt.wantToken {
				t.Errorf("token = %q, want %q", o.Token.Value(), tt.wantToken)
			}
			if strings.Contains(tt.name, "every Secret") && o.PrivateKey.Value() != strings.TrimSpace(files["/run/secrets/key"]) {
				t.Errorf("private_key = %q", o.PrivateKey.Value())
			}
		})
	}
}

func TestSecretsNeverInMessages(t *testing.T) {
	const (
		envSecret  = "ENVSECRET-4f7a"
		fileSecret = "FILESECRET-9c2b"
	)
	env := map[string]string{"TOKEN": envSecret}
	files := map[string]string{"/s/token": fileSecret + "\n"}
	src := `storage:
  path: ${TOKEN}x
connectors:
  - name: gh
    type: github
    schedule: ${TOKEN}
    token: ${TOKEN}
    token_file: /s/token
    repos: [a/b]
    base_url: https://user:${TOKEN}@example.com/?key=${TOKEN}
  - name: zd
    type: zendesk
    schedule: "@hourly"
    token_file: /s/token
    tokn: ${TOKEN}
    email: [x]
  - name: hs
    type: hubspot
    schedule: "@hourly"
    token: [${TOKEN}]
  - name: bad
    type: nope
    schedule: "@hourly"
    token: ${TOKEN}
`
	cfg, err := parseString(src, env, files)
	if err == nil {
		t.Fatal("expected problems")
	}
	msg := err.Error()
	for _, s := range []string{envSecret, fileSecret} {
		if strings.Contains(msg, s) {
			t.Errorf("secret %q in problems:\n%s", s, msg)
		}
	}
	if cfg != nil {
		t.Error("config returned with problems")
	}

	// a valid config's printed form hides its secrets too
	cfg, err = parseString(ghConfig("repos: [a/b]", "token: ${TOKEN}", "lookback: 400d"), env, files)
	if err != nil {
		t.Fatal(err)
	}
	opts := cfg.Connectors[0].Options
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "opts", opts, "token", opts.(*fakeGitHub).Token)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "opts", opts, "token", opts.(*fakeGitHub).Token)
	js, _ := json.Marshal(opts)
	printed := fmt.Sprintf("%v %+v %#v %s %s", cfg, opts, opts, js, logged.String())
	if strings.Contains(printed, envSecret) {
		t.Errorf("secret printed: %s", printed)
	}
	if got := cfg.Connectors[0].Options.(*fakeGitHub).Token.Value(); got != envSecret {
		t.Errorf("token = %q", got)
	}
}

func TestStrictDecoding(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "unknown top-level key with suggestion",
			src:  "conectors: []\nstorage: {}\n",
			want: []string{`t.yaml:1: conectors: unknown key (did you mean "connectors"?)`},
		},
		{
			name: "unknown key without a close match",
			src:  "storage:\n  path: x\n  compression: zstd\n",
			want: []string{`t.yaml:3: storage.compression: unknown key`},
		},
		{
			name: "unknown connector key suggests a secret _file key",
			src:  ghConfig("repos: [a/b]", "token: x", "private_key_fle: /x"),
			want: []string{`t.yaml:7: connectors[0].private_key_fle: unknown key (did you mean "private_key_file"?)`},
		},
		{
			name: "wrong kinds",
			src:  "teams: platform\npeople: {id: a}\nstorage: [x]\n",
			want: []string{
				`t.yaml:1: teams: expected a list, got a scalar`,
				`t.yaml:2: people: expected a list, got a mapping`,
				`t.yaml:3: storage: expected a mapping, got a list`,
			},
		},
		{
			name: "every problem, not just the first",
			src: "storage:\n  retention: forever\n  open_timeout: 5\npeople:\n  - id: a\n    roles: admin\n  - id: b\n    nickname: bee\n" +
				ghConfig("repos: [a/b]", "token: x", "min_remaining: -1", "insecure_skip_verify: maybe", "reconcile: 0s"),
			want: []string{
				`t.yaml:2: storage.retention: invalid duration "forever": want a number followed by a unit (ns, us, ms, s, m, h, d, w), e.g. 90d, 36h, 15m`,
				`t.yaml:3: storage.open_timeout: invalid duration "5": missing unit after 5 (ns, us, ms, s, m, h, d, w)`,
				`t.yaml:6: people[0].roles: expected a list, got a scalar`,
				`t.yaml:8: people[1].nickname: unknown key`,
				`t.yaml:15: connectors[0].min_remaining: must not be negative`,
				`t.yaml:16: connectors[0].insecure_skip_verify: invalid boolean "maybe" (want true or false)`,
				`t.yaml:17: connectors[0].reconcile: must be positive (default 24h)`,
			},
		},
		{
			name: "duplicate keys",
			src:  "storage:\n  path: a\n  path: b\n",
			want: []string{`t.yaml:3: storage.path: duplicate key (first at line 2)`},
		},
		{
			name: "yaml syntax error has its line",
			src:  "storage:\n  path: a\n bad\n",
			want: []string{`t.yaml:3: invalid YAML: did not find expected key`},
		},
		{
			name: "one document only",
			src:  "storage: {}\n---\nteams: []\n",
			want: []string{`t.yaml:2: a config holds one YAML document, found a second one`},
		},
		{
			name: "top level must be a mapping",
			src:  "- a\n- b\n",
			want: []string{`t.yaml:1: the config must be a mapping (storage, teams, people, connectors, kpis), got a list`},
		},
		{
			name: "empty document is the defaults",
			src:  "# nothing\n",
		},
		{
			name: "anchors and merge keys",
			src: "x-common: &common\n  schedule: \"@every 15m\"\n  token: x\n  repos: [a/b]\n" +
				"connectors:\n  - <<: *common\n    name: one\n    type: github\n  - <<: *common\n    name: two\n    type: github\n",
			want: []string{`t.yaml:1: x-common: unknown key (the top-level keys are storage, teams, people, connectors and kpis)`},
		},
		{
			name: "merge keys in connectors",
			src: "connectors:\n  - &gh\n    name: one\n    type: github\n    schedule: \"@every 15m\"\n    token: x\n    repos: [a/b]\n" +
				"  - <<: *gh\n    name: two\n  - *gh\n",
			want: []string{`t.yaml:10: connectors[2].name: duplicate connector name "one" (first at line 3)`},
		},
		{
			name: "unknown anchor",
			src:  "teams: *nope\n",
			want: []string{`t.yaml:1: invalid YAML: unknown anchor 'nope' referenced`},
		},
		{
			name: "alias to its own list",
			src:  "teams: &a [*a]\n",
			want: []string{`t.yaml:1: teams[0]: expected a string, got a list`},
		},
		{
			name: "merge cycle does not loop",
			src:  "storage: &s {path: x, <<: *s}\n",
			want: []string{`t.yaml:1: storage: alias *s refers to a node that contains it`},
		},
		{
			name: "connector entry not a mapping",
			src:  "connectors:\n  - github\n",
			want: []string{`t.yaml:2: connectors[0]: expected a mapping, got a scalar`},
		},
		{
			name: "a misshapen entry gets one problem, not one per missing key",
			src:  "people: [alice]\n" + ghConfig("repos: [a/b]", "token: x") + "kpis:\n  - merged\n  - [x]\n",
			want: []string{
				`t.yaml:1: people[0]: expected a mapping, got a scalar`,
				`t.yaml:9: kpis[0]: expected a mapping, got a scalar`,
				`t.yaml:10: kpis[1]: expected a mapping, got a list`,
			},
		},
		{
			name: "unknown type still checks the common keys",
			src:  "connectors:\n  - name: Bad Name\n    type: gitlab\n    schedule: nope\n    project: x\n",
			want: []string{
				`t.yaml:2: connectors[0].name: invalid connector name "Bad Name": use lowercase letters, digits, "_" and "-"`,
				`t.yaml:3: connectors[0].type: unknown connector type "gitlab" (known: github, hubspot, jira, zendesk)`,
				`t.yaml:4: connectors[0].schedule: invalid cron "nope": expected exactly 5 fields, found 1: [nope]`,
			},
		},
		{
			name: "missing type and name",
			src:  "connectors:\n  - schedule: \"@hourly\"\n",
			want: []string{
				`t.yaml:2: connectors[0].type: required (one of github, hubspot, jira, zendesk)`,
				`t.yaml:2: connectors[0].name: required`,
			},
		},
		{
			name: "connector FieldErrors land on their key, else the entry",
			src:  ghConfig("repos:", "  - a/b", "  - nope"),
			want: []string{
				`t.yaml:2: connectors[0].token: required (or app_id, installation_id and private_key_file)`,
				`t.yaml:7: connectors[0].repos[1]: invalid repo "nope": want owner/name or owner/*`,
			},
		},
		{
			name: "numbers as strings, strings as numbers",
			src:  "people:\n  - {id: a, zendesk: 360012345678, hubspot: 7788990}\n" + ghConfig("repos: [a/b]", "token: 12345", "min_remaining: 0x10", "max_wait: 1h"),
		},
		{
			name: "integer out of range",
			src:  ghConfig("repos: [a/b]", "token: x", "min_remaining: 99999999999999999999"),
			want: []string{`t.yaml:7: connectors[0].min_remaining: invalid integer "99999999999999999999"`},
		},
		{
			name: "null keeps defaults",
			src:  "storage:\n  path:\n  retention: ~\n" + ghConfig("repos: [a/b]", "token: x", "lookback:"),
		},
		{
			name: "empty storage path",
			src:  "storage:\n  path: ''\n",
			want: []string{`t.yaml:2: storage.path: must not be empty (default ./kpid.db)`},
		},
		{
			name: "base_url and ca_file",
			src: ghConfig("repos: [a/b]", "token: x", "base_url: ftp://example.com/", "ca_file: /nope.pem") +
				"  - {name: gh2, type: github, schedule: '@hourly', token: x, repos: [a/b], base_url: 'https://u:p@h/', ca_file: /bad.pem}\n",
			want: []string{
				`t.yaml:7: connectors[0].base_url: invalid URL "ftp://example.com/": want an http:// or https:// URL`,
				`t.yaml:8: connectors[0].ca_file: cannot read /nope.pem: file does not exist`,
				`t.yaml:9: connectors[1].base_url: credentials in base_url are not allowed: use the connector's credential keys`,
				`t.yaml:9: connectors[1].ca_file: /bad.pem holds no PEM certificate`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseString(tt.src, nil, map[string]string{"/bad.pem": "not a cert"})
			if got := problemLines(t, err); !equalLines(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{"k.yaml", 14, "connectors[0].schedule", `invalid cron "x"`}, `k.yaml:14: connectors[0].schedule: invalid cron "x"`},
		{Problem{"k.yaml", 0, "storage.retention", "too short"}, `k.yaml: storage.retention: too short`},
		{Problem{"k.yaml", 3, "", "invalid YAML: x"}, `k.yaml:3: invalid YAML: x`},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	ps := Problems{{"f", 9, "b", "late"}, {"f", 2, "a", "early"}, {"f", 9, "a", "late too"}}
	if got, want := ps.Error(), "f:2: a: early\nf:9: b: late\nf:9: a: late too"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
