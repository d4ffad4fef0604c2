package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/google/go-cmp/cmp"
)

// monorepoYAML discovers apps laid out as apps/<app>/overlays/<env>, with
// extra written after the rule.
func monorepoYAML(extra string) string {
	return `version: 1
templates:
  - name: web-chain
    environments:
      - {name: dev, path: "apps/{app}/overlays/dev", release: auto}
      - {name: staging, path: "apps/{app}/overlays/staging", release: auto}
      - {name: prod, path: "apps/{app}/overlays/prod", reviewers: [alice]}
discover:
  - pattern: "apps/{app}/overlays/{env}"
    template: web-chain
    image: "registry.example.com/acme/{app}"
    source: {repo: "https://github.com/acme/{app}"}
` + extra
}

// overlay is a Kustomize overlay of app's base pinning nothing yet.
func overlay(app string) string {
	return fmt.Sprintf("resources: [../../base]\nimages:\n  - name: registry.example.com/acme/%s\n", app)
}

// monorepo is the tree of apps, each with a base and the overlays named.
func monorepo(apps map[string][]string) map[string]string {
	files := map[string]string{}
	for app, envs := range apps {
		files["apps/"+app+"/base/kustomization.yaml"] = "resources: [deployment.yaml]\n"
		files["apps/"+app+"/base/deployment.yaml"] = "kind: Deployment\n"
		for _, env := range envs {
			files["apps/"+app+"/overlays/"+env+"/kustomization.yaml"] = overlay(app)
		}
	}
	return files
}

// summary is one line per app: name, image, source and each environment's
// path.
func summary(cfg *config.Config) []string {
	var out []string
	for _, a := range cfg.Apps {
		var envs []string
		for _, e := range a.Environments {
			envs = append(envs, e.Name+"="+e.Path)
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", a.Name, a.Image, a.Source.Repo, strings.Join(envs, " ")))
	}
	return out
}

// TestCacheDiscoversApps moves a real monorepo-shaped GitOps repository
// through the changes a team makes: the apps follow the directories (one
// appears, one disappears, a written app overrides a discovered one), each
// gets only the environments it has overlays for, and a commit that only
// edits manifests (every promotion) is not parsed again.
func TestCacheDiscoversApps(t *testing.T) {
	ctx := t.Context()
	files := monorepo(map[string][]string{"web": {"dev", "staging", "prod"}, "api": {"dev", "prod"}})
	files[File] = monorepoYAML("")
	files["apps/README.md"] = "one directory per app\n"
	files["apps/shared/config.yaml"] = "not an app: no overlays\n"
	files["apps/web/overlays/qa/kustomization.yaml"] = overlay("web") // not in the template
	dir := newRepo(t, files)
	c := NewCache(dir, "main", nil)
	parses := 0
	c.parse = func(filename string, data []byte, opts ...config.ParseOption) (*config.Config, error) {
		parses++
		return config.Parse(filename, data, opts...)
	}
	const (
		api    = "api registry.example.com/acme/api https://github.com/acme/api dev=apps/api/overlays/dev prod=apps/api/overlays/prod"
		web    = "web registry.example.com/acme/web https://github.com/acme/web dev=apps/web/overlays/dev staging=apps/web/overlays/staging prod=apps/web/overlays/prod"
		worker = "worker registry.example.com/acme/worker https://github.com/acme/worker dev=apps/worker/overlays/dev prod=apps/worker/overlays/prod"
	)
	for _, step := range []struct {
		name   string
		change map[string]string
		remove string // a directory removed before the call
		want   []string
		parses int // total after the step
	}{
		{"first read", nil, "", []string{api, web}, 2},
		{"a promotion edits an overlay", map[string]string{"apps/web/overlays/dev/kustomization.yaml": overlay("web") + "    digest: sha256:" + strings.Repeat("1", 64) + "\n"}, "", []string{api, web}, 2},
		{"a new app's directory", monorepo(map[string][]string{"worker": {"dev", "prod"}}), "", []string{api, web, worker}, 3},
		{"an app's directory removed", nil, "apps/api", []string{web, worker}, 4},
		{"a written app wins over a discovered one", map[string]string{File: monorepoYAML(`apps:
  - name: worker
    source: {repo: "https://github.com/acme/jobs"}
    image: registry.example.com/acme/jobs
    environments:
      - {name: dev, path: apps/worker/overlays/dev, release: auto}
`)}, "", []string{"worker registry.example.com/acme/jobs https://github.com/acme/jobs dev=apps/worker/overlays/dev", web}, 6},
		{"the rule removed", map[string]string{File: pipelineYAML("Plain")}, "", []string{"hello localhost:5000/hello /srv/git/hello dev=envs/dev"}, 7},
	} {
		t.Run(step.name, func(t *testing.T) {
			if step.remove != "" {
				git(t, dir, "rm", "-r", "-q", step.remove)
			}
			if step.change != nil || step.remove != "" {
				commit(t, dir, step.change)
			}
			cfg, err := c.Config(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(step.want, summary(cfg)); diff != "" {
				t.Errorf("apps (-want +got):\n%s", diff)
			}
			if parses != step.parses {
				t.Errorf("%d parses, want %d", parses, step.parses)
			}
			if _, err := c.Config(ctx); err != nil || parses != step.parses {
				t.Errorf("an unchanged tip: %v, %d parses, want none more than %d", err, parses, step.parses)
			}
		})
	}
}
