package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kpid/kpid/pipeline"
)

// Defaults of SPEC §2.
const (
	DefaultStoragePath = "./kpid.db"
	DefaultRetention   = 730 * Day
	DefaultOpenTimeout = 5 * time.Second
	DefaultLookback    = 90 * Day
	DefaultReconcile   = 24 * time.Hour
	DefaultMaxWait     = 15 * time.Minute
)

// StdinName is the file name used in messages for a config read from
// standard input (path "-").
const StdinName = "<stdin>"

// LoadOptions are what Load and Parse need besides the file.
type LoadOptions struct {
	// Types maps a connector type name (github, zendesk, hubspot, jira) to
	// its options factory.
	Types map[string]ConnectorType
	// Templates returns the role-template KPIs (SPEC §6.3) for the given
	// connector types present; used when the file has no `kpis` key. May be
	// nil (then no KPIs).
	Templates func(connectorTypes []string) []pipeline.KPI
	// LookupEnv expands ${VAR}; default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// ReadFile reads *_file secrets and ca_file; default os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// Stdin is read for path "-"; default os.Stdin.
	Stdin io.Reader
}

// optionsBase is what every connector options struct has, by embedding
// Common.
type optionsBase interface{ Base() *Common }

var (
	connectorNameRe = regexp.MustCompile(`^[a-z0-9_-]+$`)
	personIDRe      = regexp.MustCompile(`^[a-z0-9_.-]+$`)
	kpiIDRe         = regexp.MustCompile(`^[a-z0-9_]+$`)
	yamlErrLineRe   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// Load reads the config file at path ("-": standard input, named "<stdin>"
// in messages) and parses it with Parse. Every problem, a missing file
// included, comes back as a Problems error.
func Load(path string, o LoadOptions) (*Config, error) {
	var (
		data []byte
		err  error
		name = path
	)
	if path == "-" {
		name = StdinName
		in := o.Stdin
		if in == nil {
			in = os.Stdin
		}
		data, err = io.ReadAll(in)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, Problems{{File: name, Message: fileError(name, err).Error()}}
	}
	return Parse(name, data, o)
}

// Parse parses, expands and validates a config read from the file called
// name. On any problem the error is a Problems value listing all of them,
// in file order, and the Config is nil. Lint findings do not fail: they are
// in Config.Warnings.
func Parse(name string, data []byte, o LoadOptions) (*Config, error) {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	l := &loader{
		o:   o,
		d:   newDecoder(name, o.LookupEnv, o.ReadFile),
		cfg: &Config{File: name},
	}
	l.run(data)
	if len(l.d.probs) > 0 {
		return nil, l.problems()
	}
	return l.cfg, nil
}

// loader holds the state of one Parse.
type loader struct {
	o   LoadOptions
	d   *decoder
	cfg *Config

	teamsSet bool
	kpisSet  bool
	rawKPIs  []kpiYAML
	warnings []warning
	// connPaths holds the path of each Config.Connectors entry
	// ("connectors[2]").
	connPaths []string
}

type warning struct {
	line int
	text string
}

func (l *loader) problems() Problems {
	ps := Problems(l.d.probs).sorted()
	out := ps[:0]
	seen := map[Problem]bool{}
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func (l *loader) warn(path, format string, args ...any) {
	line := l.d.lineOf(path)
	p := Problem{File: l.d.file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)}
	l.warnings = append(l.warnings, warning{line, p.String()})
}

func (l *loader) run(data []byte) {
	root, ok := l.parseYAML(data)
	l.cfg.Storage = Storage{
		Path:        DefaultStoragePath,
		Retention:   Duration(DefaultRetention),
		OpenTimeout: Duration(DefaultOpenTimeout),
	}
	if !ok {
		return
	}
	if root != nil {
		l.decodeTop(root)
	}
	l.checkStorage()
	l.checkTeams()
	l.checkPeople()
	l.checkConnectors()
	if l.kpisSet {
		l.cfg.KPIs = l.resolveKPIs()
	} else {
		if l.o.Templates != nil {
			l.cfg.KPIs = l.o.Templates(l.connectorTypes())
		}
		l.cfg.KPIsFromTemplates = true
	}
	l.checkRetention()
	l.lint()
	sort.SliceStable(l.warnings, func(i, j int) bool { return l.warnings[i].line < l.warnings[j].line })
	for _, w := range l.warnings {
		l.cfg.Warnings = append(l.cfg.Warnings, w.text)
	}
}

// parseYAML parses the document to a node tree. root is nil for an empty
// document; ok is false when the YAML itself is broken.
func (l *loader) parseYAML(data []byte) (root *yaml.Node, ok bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		l.yamlError(err, data)
		return nil, false
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		l.d.add(extra.Line, "", "a config holds one YAML document, found a second one")
		return nil, false
	case !errors.Is(err, io.EOF):
		l.yamlError(err, data)
		return nil, false
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], true
	}
	return nil, true
}

// yamlParserProblems are the problems yaml.v3's parser (as opposed to its
// scanner) reports. It numbers their lines from 0 (go-yaml/yaml#205): the
// line of the construct being parsed, or of the offending token when that
// construct starts on the first line; with no line at all when both are on
// the first line.
var yamlParserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

var yamlUnknownAnchorRe = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)

func (l *loader) yamlError(err error, data []byte) {
	msg := err.Error()
	if m := yamlErrLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if yamlParserProblems[m[2]] {
			line++
		}
		l.d.add(line, "", "invalid YAML: %s", m[2])
		return
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	switch m := yamlUnknownAnchorRe.FindStringSubmatch(err.Error()); {
	case yamlParserProblems[msg]:
		line = 1
	case m != nil:
		line = aliasLine(data, m[1])
	}
	l.d.add(line, "", "invalid YAML: %s", msg)
}

// aliasLine returns the line of the first alias *name in data outside
// comments (yaml.v3 reports an unknown anchor without its line), or 0.
func aliasLine(data []byte, name string) int {
	re, err := regexp.Compile(`(^|[\s\[{,:])\*` + regexp.QuoteMeta(name) + `($|[\s\]},])`)
	if err != nil {
		return 0
	}
	for i, text := range strings.Split(string(data), "\n") {
		if c, _, _ := strings.Cut(text, " #"); re.MatchString(c) && !strings.HasPrefix(strings.TrimSpace(c), "#") {
			return i + 1
		}
	}
	return 0
}

var topKeys = []string{"connectors", "kpis", "people", "storage", "teams"}

func (l *loader) decodeTop(root *yaml.Node) {
	d := l.d
	root, leave := d.deref(root, "")
	defer leave()
	if root == nil || isNull(root) {
		return
	}
	if root.Kind != yaml.MappingNode {
		d.add(d.at(root), "", "the config must be a mapping (storage, teams, people, connectors, kpis), got %s", kindName(root))
		return
	}
	for _, p := range d.mappingPairs(root, "") {
		key := p.key.Value
		path := keyPath("", key)
		d.record(path, p.line)
		leave := d.enter(p)
		switch key {
		case "storage":
			d.decode(p.val, reflect.ValueOf(&l.cfg.Storage).Elem(), path)
		case "teams":
			l.teamsSet = true
			d.decode(p.val, reflect.ValueOf(&l.cfg.Teams).Elem(), path)
		case "people":
			d.decode(p.val, reflect.ValueOf(&l.cfg.People).Elem(), path)
		case "connectors":
			l.decodeConnectors(p.val, path)
		case "kpis":
			if v := d.resolve(p.val, path); v != nil && !isNull(v) {
				l.kpisSet = true
				d.decode(p.val, reflect.ValueOf(&l.rawKPIs).Elem(), path)
			}
		default:
			if s := suggest(key, topKeys); s != "" {
				d.add(p.line, path, "unknown key (did you mean %q?)", s)
			} else {
				d.add(p.line, path, "unknown key (the top-level keys are storage, teams, people, connectors and kpis)")
			}
		}
		leave()
	}
}

func (l *loader) decodeConnectors(n *yaml.Node, path string) {
	d := l.d
	n, leave := d.deref(n, path)
	defer leave()
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.broke(d.at(n), path, "expected a list, got %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		p := indexPath(path, i)
		d.record(p, d.at(item))
		l.decodeConnector(item, p)
	}
}

func (l *loader) decodeConnector(item *yaml.Node, path string) {
	d := l.d
	line := d.at(item)
	n, leave := d.deref(item, path)
	defer leave()
	if n == nil {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.broke(d.at(n), path, "expected a mapping, got %s", kindName(n))
		return
	}
	// the type first: it says which options struct decodes the entry
	typ := ""
	typPath := keyPath(path, "type")
	for _, p := range d.mappingPairs(n, path) {
		if p.key.Value != "type" {
			continue
		}
		d.record(typPath, p.line)
		leave := d.enter(p)
		v, leaveV := d.deref(p.val, typPath)
		if v != nil && !isNull(v) {
			typ, _ = d.scalar(v, typPath, "a string")
		}
		leaveV()
		leave()
	}
	var ct ConnectorType
	known := false
	switch {
	case d.failed[typPath]:
	case typ == "":
		d.addAt(typPath, "required (one of %s)", strings.Join(l.typeNames(), ", "))
	default:
		ct, known = l.o.Types[typ]
		if !known {
			d.addAt(typPath, "unknown connector type %q (known: %s)", typ, strings.Join(l.typeNames(), ", "))
		}
	}
	var opts any
	if known && ct.New != nil {
		opts = ct.New()
	}
	base, ok := opts.(optionsBase)
	if known && (!ok || reflect.ValueOf(opts).Kind() != reflect.Pointer || reflect.ValueOf(opts).IsNil()) {
		d.addAt(typPath, "connector type %q has no usable options struct (New must return a pointer to a struct embedding config.Common)", typ)
		known = false
	}
	if !known {
		// still check the common keys (name, schedule, ...), but without
		// the type's own keys an unknown key cannot be told apart
		c := &Common{}
		setCommonDefaults(c)
		d.lax = true
		d.decode(n, reflect.ValueOf(c).Elem(), path)
		d.lax = false
		l.cfg.Connectors = append(l.cfg.Connectors, Connector{Common: *c, Line: line})
		l.connPaths = append(l.connPaths, path)
		return
	}
	setCommonDefaults(base.Base())
	d.decode(n, reflect.ValueOf(opts).Elem(), path)
	if v, ok := opts.(Validator); ok {
		for _, fe := range v.Validate() {
			p := path
			switch {
			case fe.Path == "":
			case strings.HasPrefix(fe.Path, "["):
				p += fe.Path
			default:
				p += "." + fe.Path
			}
			d.addAt(p, "%s", fe.Message)
		}
	}
	l.cfg.Connectors = append(l.cfg.Connectors, Connector{Common: *base.Base(), Options: opts, Line: line})
	l.connPaths = append(l.connPaths, path)
}

func setCommonDefaults(c *Common) {
	if c.Lookback == 0 {
		c.Lookback = Duration(DefaultLookback)
	}
	if c.Reconcile == 0 {
		c.Reconcile = Duration(DefaultReconcile)
	}
	if c.MaxWait == 0 {
		c.MaxWait = Duration(DefaultMaxWait)
	}
}

func (l *loader) typeNames() []string {
	names := make([]string, 0, len(l.o.Types))
	for n := range l.o.Types {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return []string{"none configured"}
	}
	return names
}

// connectorTypes lists the types of the configured connectors, sorted,
// each once.
func (l *loader) connectorTypes() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range l.cfg.Connectors {
		if _, ok := l.o.Types[c.Type]; ok && !seen[c.Type] {
			seen[c.Type] = true
			out = append(out, c.Type)
		}
	}
	sort.Strings(out)
	return out
}
