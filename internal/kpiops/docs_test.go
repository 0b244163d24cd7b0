package kpiops

import (
	"regexp"
	"strings"
	"testing"
)

func TestDocs(t *testing.T) {
	cfg := smallConfig(t)
	doc := string(Docs(cfg))

	// Every KPI has its section with the facts a reviewer needs.
	for _, k := range cfg.KPIs {
		i := strings.Index(doc, "### "+k.Title+" — `"+k.ID+"`\n")
		if i < 0 {
			t.Errorf("no section for %s", k.ID)
			continue
		}
		sec := doc[i:]
		if j := strings.Index(sec[4:], "\n### "); j >= 0 {
			sec = sec[:j+4]
		}
		def := Definition(k)
		for _, want := range []string{
			"**Definition:** " + strings.ToUpper(def[:1]) + def[1:] + ".",
			"| Direction | " + k.Direction + " is better |",
			"| Owner | " + k.Owner + " |",
			"| Review cadence | " + k.Cadence + " |",
			"| Category / kind | " + k.Category + " / " + k.Kind + " |",
			"`kpi_value{kpi=\"" + k.ID + "\",team=\"\",person=\"\"}`",
			"`kpi_samples{kpi=\"" + k.ID + "\",team=\"\",person=\"\"}`",
		} {
			if !strings.Contains(sec, want) {
				t.Errorf("section of %s lacks %q:\n%s", k.ID, want, sec)
			}
		}
		target := targetText(k)
		if target == "none" {
			target = "none yet"
		}
		if !strings.Contains(sec, "| Target | "+mdCell(target)) {
			t.Errorf("section of %s lacks its target %q:\n%s", k.ID, target, sec)
		}
	}

	for _, want := range []string{
		// Summary rows, targets in their units with their direction.
		"| PR cycle time (median) (`cycle`) | developer | ≤ 48h | Engineering manager | weekly |",
		"| Review coverage (`reviewed`) | developer | ≥ 90% | Engineering manager | monthly |",
		"| First replies within 2h (`sla`) | support | ≥ 95% for person bob; ≥ 92% for team support | Support lead | quarterly |",
		"| Backlog (`backlog`) | team | ≤ 40 | Support lead | weekly |",
		"| Deployment frequency (`deploys`) | team | none | Engineering manager | weekly |",
		// Details.
		"| Statistic | fraction_le 2h (share of samples ≤ threshold) |",
		"| Window | 7d, 28d |",
		"| Baseline | none (a snapshot of now) |",
		"| Scope | org, team, person (declared people with role developer) |",
		"- value per person: `kpi_value{kpi=\"cycle\",person!=\"\"}`",
		"- attainment (1 = on target), per team: `kpi_target{kpi=\"cycle\",team!=\"\",person=\"\"} / kpi_value{kpi=\"cycle\",team!=\"\",person=\"\"}`",
		// Teams: members, and a team known only from a connector mapping.
		"### platform\n\nMembers: alice (developer).",
		"KPIs with series for this team: `cycle`, `merged`, `reviewed`, `deploys`.",
		"### ops|night\n\nNo declared member",
		"`kpi_value{team=\"ops|night\",person=\"\"}`",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("document lacks %q", want)
		}
	}

	// Table cells never break on a "|" of their content.
	cellSep := regexp.MustCompile(`(^|[^\\])\|`)
	inSummary := false
	for _, line := range strings.Split(doc, "\n") {
		switch {
		case strings.HasPrefix(line, "| KPI | Role |"):
			inSummary = true
		case inSummary && line == "":
			inSummary = false
		case inSummary && !strings.HasPrefix(line, "|---"):
			if n := len(cellSep.FindAllString(line, -1)); n != 6 {
				t.Errorf("summary row has %d cell separators, want 6: %s", n, line)
			}
		}
	}
}

func TestDocsGolden(t *testing.T) {
	golden(t, "small.docs.md", Docs(smallConfig(t)))
}

func TestDocsTemplatesNote(t *testing.T) {
	cfg := parse(t, "templates.yaml", `connectors:
  - {name: gh, type: github, schedule: "@hourly", token: x, repos: [a/b], lookback: 455d}
storage: {retention: 730d}
`, nil)
	doc := string(Docs(cfg))
	if !strings.Contains(doc, "the built-in role templates") {
		t.Error("a config without kpis does not say its KPIs are the templates")
	}
	if !strings.Contains(doc, "## Developers") || !strings.Contains(doc, "## Team-level KPIs") || strings.Contains(doc, "## Support") {
		t.Error("role sections do not follow the github templates")
	}
}
