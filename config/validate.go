package config

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
)

func (l *loader) checkStorage() {
	s := &l.cfg.Storage
	if strings.TrimSpace(s.Path) == "" {
		l.d.addAt("storage.path", "must not be empty (default %s)", DefaultStoragePath)
	}
	if s.Retention <= 0 {
		l.d.addAt("storage.retention", "must be positive (default %s)", FormatDuration(DefaultRetention))
	}
	if s.OpenTimeout <= 0 {
		l.d.addAt("storage.open_timeout", "must be positive (default %s)", FormatDuration(DefaultOpenTimeout))
	}
}

func (l *loader) checkTeams() {
	first := map[string]string{}
	for i, t := range l.cfg.Teams {
		p := indexPath("teams", i)
		switch prev, dup := first[t]; {
		case strings.TrimSpace(t) == "":
			l.d.addAt(p, "team name must not be empty")
		case dup:
			l.d.addAt(p, "duplicate team %q (first at line %d)", t, l.d.lineOf(prev))
		default:
			first[t] = p
		}
	}
}

// checkTeamRef reports a team named at path that `teams` does not list
// (when `teams` is set).
func (l *loader) checkTeamRef(path, team string) {
	if !l.teamsSet {
		return
	}
	for _, t := range l.cfg.Teams {
		if t == team {
			return
		}
	}
	if s := suggest(team, l.cfg.Teams); s != "" {
		l.d.addAt(path, "team %q is not in teams (did you mean %q?)", team, s)
		return
	}
	l.d.addAt(path, "team %q is not in teams", team)
}

// identity systems of people, in field order, with the noun for messages.
var identitySystems = []struct {
	key, noun string
	get       func(*Person) string
}{
	{"github", "github login", func(p *Person) string { return p.GitHub }},
	{"zendesk", "zendesk user", func(p *Person) string { return p.Zendesk }},
	{"hubspot", "hubspot owner", func(p *Person) string { return p.HubSpot }},
	{"jira", "jira user", func(p *Person) string { return p.Jira }},
}

func (l *loader) checkPeople() {
	ids := map[string]string{}     // id -> path
	claimed := map[string]string{} // system + "\x00" + identity -> person path
	for i := range l.cfg.People {
		pr := &l.cfg.People[i]
		p := indexPath("people", i)
		idPath := p + ".id"
		switch prev, dup := ids[pr.ID]; {
		case pr.ID == "":
			l.d.addAt(idPath, "required")
		case !personIDRe.MatchString(pr.ID):
			l.d.addAt(idPath, "invalid person id %q: use lowercase letters, digits, \"_\", \".\" and \"-\"", pr.ID)
		case dup:
			l.d.addAt(idPath, "duplicate person id %q (first at line %d)", pr.ID, l.d.lineOf(prev))
		default:
			ids[pr.ID] = idPath
		}
		if pr.Team != "" {
			l.checkTeamRef(p+".team", pr.Team)
		}
		for j, r := range pr.Roles {
			if strings.TrimSpace(r) == "" {
				l.d.addAt(indexPath(p+".roles", j), "role must not be empty")
			}
		}
		for _, sys := range identitySystems {
			v := strings.TrimSpace(sys.get(pr))
			if v == "" {
				continue
			}
			// GitHub logins are case-insensitive, and so are emails (used
			// to resolve Zendesk, HubSpot and Jira ids)
			norm := v
			if sys.key == "github" || strings.Contains(v, "@") {
				norm = strings.ToLower(v)
			}
			k := sys.key + "\x00" + norm
			fp := p + "." + sys.key
			if prev, dup := claimed[k]; dup {
				owner := l.cfg.People[indexOf(prev)].ID
				l.d.addAt(fp, "%s %q is already claimed by person %q (line %d)", sys.noun, v, owner, l.d.lineOf(prev))
				continue
			}
			claimed[k] = fp
		}
	}
}

// indexOf extracts i from "people[i].field".
func indexOf(path string) int {
	var i int
	_, _ = fmt.Sscanf(path[strings.IndexByte(path, '[')+1:], "%d", &i)
	return i
}

func (l *loader) checkConnectors() {
	names := map[string]string{}
	for i := range l.cfg.Connectors {
		c := &l.cfg.Connectors[i]
		p := l.connPaths[i]
		np := p + ".name"
		switch prev, dup := names[c.Name]; {
		case c.Name == "":
			l.d.addAt(np, "required")
		case !connectorNameRe.MatchString(c.Name):
			l.d.addAt(np, "invalid connector name %q: use lowercase letters, digits, \"_\" and \"-\"", c.Name)
		case dup:
			l.d.addAt(np, "duplicate connector name %q (first at line %d)", c.Name, l.d.lineOf(prev))
		default:
			names[c.Name] = np
		}
		sp := p + ".schedule"
		if strings.TrimSpace(c.Schedule) == "" {
			l.d.addAt(sp, "required (e.g. \"@every 15m\" or \"*/15 * * * *\")")
		} else if _, err := ParseSchedule(c.Schedule); err != nil {
			l.d.addAt(sp, "invalid cron %q: %v", c.Schedule, err)
		}
		if c.BaseURL != "" {
			u, err := url.Parse(c.BaseURL)
			switch {
			case err != nil:
				l.d.addAt(p+".base_url", "invalid URL: %v", unwrapURLError(err))
			case u.Scheme != "http" && u.Scheme != "https":
				l.d.addAt(p+".base_url", "invalid URL %q: want an http:// or https:// URL", redactURL(u))
			case u.Host == "":
				l.d.addAt(p+".base_url", "invalid URL %q: no host", redactURL(u))
			case u.User != nil:
				l.d.addAt(p+".base_url", "credentials in base_url are not allowed: use the connector's credential keys")
			}
		}
		if c.Lookback <= 0 {
			l.d.addAt(p+".lookback", "must be positive (default %s)", FormatDuration(DefaultLookback))
		}
		if c.Reconcile <= 0 {
			l.d.addAt(p+".reconcile", "must be positive (default %s)", FormatDuration(DefaultReconcile))
		}
		if c.MinRemaining < 0 {
			l.d.addAt(p+".min_remaining", "must not be negative")
		}
		if c.CAFile != "" {
			l.checkCAFile(p+".ca_file", c.CAFile)
		}
		l.checkFileKeys(p, c.Options)
		for _, key := range sortedKeys(c.Teams) {
			tp := keyPath(p+".teams", key)
			if strings.TrimSpace(c.Teams[key]) == "" {
				l.d.addAt(tp, "team must not be empty")
				continue
			}
			l.checkTeamRef(tp, c.Teams[key])
		}
	}
}

func (l *loader) checkCAFile(path, name string) {
	b, err := l.o.ReadFile(name)
	if err != nil {
		l.d.addAt(path, "%v", fileError(name, err))
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		l.d.addAt(path, "%s holds no PEM certificate", name)
	}
}

// checkFileKeys reports the plain-path *_file keys of a connector's options
// (a GitHub App's private_key_file) naming a file that cannot be read
// (SPEC §2). The X_file keys of secrets are read while decoding, ca_file
// by checkCAFile.
func (l *loader) checkFileKeys(path string, opts any) {
	v := reflect.ValueOf(opts)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	v = v.Elem()
	si := l.d.structInfo(v.Type())
	for _, key := range si.keys {
		idx, ok := si.fields[key]
		if !ok || key == "ca_file" || !strings.HasSuffix(key, "_file") {
			continue
		}
		f := fieldByIndex(v, idx)
		if f.Kind() != reflect.String || f.String() == "" {
			continue
		}
		if _, err := l.o.ReadFile(f.String()); err != nil {
			l.d.addAt(keyPath(path, key), "%v", fileError(f.String(), err))
		}
	}
}

// unwrapURLError drops url.Error's repetition of the whole URL (which may
// carry a secret) and keeps the reason.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// redactURL prints a URL without user info or query.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.Fragment = ""
	return c.String()
}

// checkRetention reports a storage.retention shorter than the history a
// KPI needs: its largest window plus its baseline (SPEC §2).
func (l *loader) checkRetention() {
	retention := l.cfg.Storage.Retention.D()
	if retention <= 0 {
		return
	}
	worst, worstNeed := -1, retention
	for i, k := range l.cfg.KPIs {
		if need := kpiHistory(k); need > worstNeed {
			worst, worstNeed = i, need
		}
	}
	if worst < 0 {
		return
	}
	k := l.cfg.KPIs[worst]
	win := largestWindow(k)
	what := fmt.Sprintf("kpi %q needs window %s + baseline %s = %s of history", k.ID, win.Name, FormatDuration(k.Baseline), FormatDuration(worstNeed))
	if _, written := l.d.lines["storage.retention"]; written || !l.kpisSet {
		l.d.addAt("storage.retention", "retention %s is shorter than the history the KPIs need: %s", FormatDuration(retention), what)
		return
	}
	l.d.addAt(l.kpiPath(worst)+".baseline", "%s, more than storage.retention (default %s): raise storage.retention or shorten the baseline", what, FormatDuration(retention))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
