package jira

import (
	_ "embed"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/kpid/kpid/config"
)

// Flavors of Jira (the `flavor` key).
const (
	FlavorCloud      = "cloud"
	FlavorDataCenter = "datacenter"
)

// Example is an example config using the connector (shown in the README;
// a test decodes and validates it).
//
//go:embed example.yaml
var Example string

// Config is the options of a `type: jira` connector entry (SPEC §2).
type Config struct {
	config.Common `yaml:",inline"`

	// Flavor is "cloud" (Jira Cloud: email + API token, REST API v3) or
	// "datacenter" (Jira Data Center / Server: personal access token sent as
	// a bearer token, REST API v2). Default cloud.
	Flavor string `yaml:"flavor"`
	// Email is the Atlassian account the API token belongs to (Cloud only).
	Email string `yaml:"email"`
	// Token is the Cloud API token or the Data Center personal access token
	// (also accepted as token_file).
	Token config.Secret `yaml:"token"`
	// JQL selects the issues to measure ("project in (ENG, OPS)"); it is
	// ANDed with the incremental condition, so it must not have its own
	// ORDER BY clause. Empty: every issue the credentials can browse.
	JQL string `yaml:"jql"`
	// InProgressStatuses are the status names (or ids) that start cycle time
	// and count as work in progress; empty: every status of the
	// "indeterminate" (In Progress) category.
	InProgressStatuses []string `yaml:"in_progress_statuses"`
	// DoneStatuses are the status names (or ids) that make an issue done;
	// empty: every status of the "done" category.
	DoneStatuses []string `yaml:"done_statuses"`
	// PointsField is the custom field holding story points, by id
	// ("customfield_10016") or by name ("Story Points"); empty: every done
	// issue weighs 1, as does an issue whose points field is empty (SPEC
	// §4.1: "points (1 if no points field)").
	PointsField string `yaml:"points_field"`
	// Timezone is the IANA zone due dates are read in; empty: the API
	// user's zone (GET /myself), else UTC. Jira reads JQL times in the API
	// user's zone: the incremental bound is written in whichever of that
	// zone and this one shows the earlier clock, so it holds in both.
	Timezone string `yaml:"timezone"`
}

// DefaultConfig returns the options with their defaults set.
func DefaultConfig() *Config {
	return &Config{
		Common: config.Common{
			Type:      "jira",
			Lookback:  config.Duration(config.DefaultLookback),
			Reconcile: config.Duration(config.DefaultReconcile),
			MaxWait:   config.Duration(config.DefaultMaxWait),
		},
		Flavor: FlavorCloud,
	}
}

// Validate checks what decoding cannot: required credentials, allowed
// values, the base URL, the zone and the status lists.
func (c *Config) Validate() []config.FieldError {
	var errs []config.FieldError
	add := func(path, format string, args ...any) {
		errs = append(errs, config.FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	switch c.Flavor {
	case FlavorCloud, FlavorDataCenter:
	case "":
		add("flavor", "required (cloud or datacenter)")
	default:
		add("flavor", "unknown flavor %q (cloud or datacenter)", c.Flavor)
	}
	if strings.TrimSpace(c.BaseURL) == "" {
		add("base_url", "required (e.g. https://acme.atlassian.net)")
	} else if _, err := parseBaseURL(c.BaseURL); err != nil {
		add("base_url", "%v", err)
	}
	if c.Token == "" {
		if c.Flavor == FlavorDataCenter {
			add("token", "required (a personal access token; or token_file)")
		} else {
			add("token", "required (an API token; or token_file)")
		}
	}
	if c.Flavor == FlavorCloud && strings.TrimSpace(c.Email) == "" {
		add("email", "required with flavor cloud (the account the API token belongs to)")
	}
	if c.Flavor == FlavorDataCenter && c.Email != "" {
		add("email", "not used with flavor datacenter (the personal access token identifies the user)")
	}
	if c.Lookback.D() <= 0 {
		add("lookback", "must be positive")
	}
	if hasOrderBy(c.JQL) {
		add("jql", "must not contain ORDER BY (kpid orders the search itself)")
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil {
			add("timezone", "unknown time zone %q", c.Timezone)
		}
	}
	inProgress := map[string]bool{}
	for i, s := range c.InProgressStatuses {
		if strings.TrimSpace(s) == "" {
			add(fmt.Sprintf("in_progress_statuses[%d]", i), "empty status name")
			continue
		}
		inProgress[strings.ToLower(strings.TrimSpace(s))] = true
	}
	for i, s := range c.DoneStatuses {
		p := fmt.Sprintf("done_statuses[%d]", i)
		switch {
		case strings.TrimSpace(s) == "":
			add(p, "empty status name")
		case inProgress[strings.ToLower(strings.TrimSpace(s))]:
			add(p, "status %q is also in in_progress_statuses", s)
		}
	}
	for k := range c.Teams {
		if strings.TrimSpace(k) == "" {
			add("teams", "empty project key")
		}
	}
	return errs
}

// parseBaseURL checks base_url: an absolute http(s) URL without query or
// credentials. A context path (https://host/jira) is kept.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("must be an http or https URL, got %q", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("has no host: %q", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("must not hold credentials (use email and token)")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("must not have a query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// hasOrderBy reports whether a JQL text has an ORDER BY clause outside
// quoted strings.
func hasOrderBy(jql string) bool {
	var b strings.Builder
	var quote rune
	for _, r := range jql {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
			b.WriteRune(' ')
		case r == '"' || r == '\'':
			quote = r
			b.WriteRune(' ')
		default:
			b.WriteRune(r)
		}
	}
	f := strings.Fields(strings.ToLower(b.String()))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "order" && f[i+1] == "by" {
			return true
		}
	}
	return false
}
