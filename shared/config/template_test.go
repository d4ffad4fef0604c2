package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const templated = `version: 1
settle: 30s
defaults:
  template: standard
templates:
  - name: standard
    environments:
      - {name: dev, path: "apps/{app}/overlays/dev", release: auto}
      - {name: staging, path: "apps/{app}/overlays/staging", reviewers: [acme/qa]}
      - {name: prod, path: "apps/{app}/overlays/prod", reviewers: [acme/sre], settle: 5m}
  - name: helm
    environments:
      - {name: dev, path: "charts/{app}/values-dev.yaml", strategy: helm, helm: {image: image}, release: auto}
apps:
  - name: web
    source: {repo: acme/web}
    image: acme/web
    template: standard
    environments:
      - {name: prod, reviewers: [alice, bob], approvals: 2}
      - {name: canary, path: apps/web/overlays/canary, reviewers: [alice]}
  - name: api
    source: {repo: acme/api}
    image: acme/api
  - name: jobs
    source: {repo: acme/jobs}
    image: acme/jobs
    template: helm
  - name: own
    source: {repo: acme/own}
    image: acme/own
    environments:
      - {name: live, path: live, release: auto}
`

// envShape is what TestTemplates compares of an environment.
type envShape struct {
	Name, Path string
	Reviewers  []string
	Approvals  int
	Release    Release
	Settle     time.Duration
}

func TestTemplates(t *testing.T) {
	cfg, err := Parse("conveyor.yaml", []byte(templated))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]envShape{}
	for _, a := range cfg.Apps {
		for _, e := range a.Environments {
			got[a.Name] = append(got[a.Name], envShape{e.Name, e.Path, e.Reviewers, e.Approvals, e.Release, e.Settle})
		}
	}
	s := 30 * time.Second
	want := map[string][]envShape{
		"web": {
			{"dev", "apps/web/overlays/dev", nil, 0, ReleaseAuto, s},
			{"staging", "apps/web/overlays/staging", []string{"acme/qa"}, 1, ReleaseManual, s},
			{"prod", "apps/web/overlays/prod", []string{"alice", "bob"}, 2, ReleaseManual, 5 * time.Minute},
			{"canary", "apps/web/overlays/canary", []string{"alice"}, 1, ReleaseManual, s},
		},
		"api": {
			{"dev", "apps/api/overlays/dev", nil, 0, ReleaseAuto, s},
			{"staging", "apps/api/overlays/staging", []string{"acme/qa"}, 1, ReleaseManual, s},
			{"prod", "apps/api/overlays/prod", []string{"acme/sre"}, 1, ReleaseManual, 5 * time.Minute},
		},
		"jobs": {{"dev", "charts/jobs/values-dev.yaml", nil, 0, ReleaseAuto, s}},
		"own":  {{"live", "live", nil, 0, ReleaseAuto, s}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environments (-want +got):\n%s", diff)
	}
	if len(cfg.Templates) != 2 || cfg.Templates[0].Name != "standard" || len(cfg.Templates[0].Environments) != 3 ||
		cfg.Templates[0].Environments[0].Path != "apps/{app}/overlays/dev" || cfg.Defaults.Template != "standard" || cfg.Apps[0].Template != "standard" {
		t.Errorf("templates as written: %+v, defaults %+v", cfg.Templates, cfg.Defaults)
	}
}

func TestTemplateErrors(t *testing.T) {
	const app = "\n  - name: web\n    source: {repo: acme/web}\n    image: acme/web\n"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown template", "version: 1\ntemplates:\n  - name: standard\n    environments: [{name: dev, path: d, release: auto}]\napps:" + app + "    template: standrd\n",
			[]string{`conveyor.yaml:9:15: apps[0].template: unknown template "standrd": define it under templates: (defined: standard)`}},
		{"unknown default", "version: 1\ndefaults: {template: std}\napps:" + app,
			[]string{`conveyor.yaml:2:22: apps[0].template: unknown template "std": define it under templates:`}},
		{"a bad value in a template is reported at its line, per app", "version: 1\ntemplates:\n  - name: t\n    environments:\n      - {name: dev, path: d, release: sometimes}\napps:" + app + "    template: t\n",
			[]string{`conveyor.yaml:5:39: apps[0].environments[0].release: must be "auto" or "manual", got "sometimes"`}},
		{"duplicate template", "version: 1\ntemplates:\n  - {name: t, environments: [{name: dev, path: d, release: auto}]}\n  - {name: t, environments: [{name: dev, path: d, release: auto}]}\napps:" + app + "    template: t\n",
			[]string{`conveyor.yaml:4:12: templates[1].name: duplicate template name "t"`}},
		{"an override without a template entry needs a path", "version: 1\ntemplates:\n  - {name: t, environments: [{name: dev, path: d, release: auto}]}\napps:" + app + "    template: t\n    environments: [{name: qa, release: auto}]\n",
			[]string{`conveyor.yaml:9:20: apps[0].environments[1]: missing required field "path"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("conveyor.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.yaml)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("errors:\n%v\nwant one holding %q", err, w)
				}
			}
		})
	}
}
