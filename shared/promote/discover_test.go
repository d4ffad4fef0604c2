package promote_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/pipeline"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

const discoveredPipeline = `version: 1
templates:
  - name: web-chain
    environments:
      - {name: dev, path: "apps/{app}/overlays/dev", release: auto}
      - {name: prod, path: "apps/{app}/overlays/prod", reviewers: [alice]}
discover:
  - pattern: "apps/{app}/overlays/{env}"
    template: web-chain
    image: "registry.example.com/acme/{app}"
    source: {repo: "https://github.com/acme/{app}"}
`

// monorepoApp is an app's Kustomize base and overlays, as a monorepo lays
// them out.
func monorepoApp(files map[string]string, app string, envs ...string) {
	files["apps/"+app+"/base/kustomization.yaml"] = "resources: [deployment.yaml]\n"
	files["apps/"+app+"/base/deployment.yaml"] = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + app + "}\nspec:\n  template:\n    spec:\n      containers:\n        - name: " + app + "\n          image: registry.example.com/acme/" + app + "\n"
	for _, env := range envs {
		files["apps/"+app+"/overlays/"+env+"/kustomization.yaml"] = "resources: [../../base]\nimages:\n  - name: registry.example.com/acme/" + app + "\n"
	}
}

// TestPromoteDiscoveredApp promotes an app that conveyor.yaml never
// names, found by a discover rule in a monorepo, through the pipeline read
// from the GitOps repository: dev (auto) merges into the app's own overlay
// and leaves the other app's alone; once the other app's directory is gone,
// its promotion is refused as permanent.
func TestPromoteDiscoveredApp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	repo, err := demo.InitRepo(filepath.Join(dir, "gitops"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"conveyor.yaml": discoveredPipeline}
	monorepoApp(files, "web", "dev", "prod")
	monorepoApp(files, "api", "dev", "prod")
	if _, err := repo.Commit(files, "init", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := repo.AcceptPushes(); err != nil {
		t.Fatal(err)
	}
	p := openFixture(t, dir, repo, pipeline.NewCache(repo.Dir, "main", nil).Config).p
	in := func(app string) event.Promotion {
		return event.Promotion{App: app, Environment: "dev", Image: "registry.example.com/acme/" + app, Digest: digest(1), Tag: "sha-1",
			Source: "https://github.com/acme/" + app, Revision: strings.Repeat("1", 40), Created: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	}

	out, err := p.Promote(ctx, in("web"))
	if err != nil || out.Action != promote.Merged {
		t.Fatalf("Promote web to dev = %+v, %v; want merged", out, err)
	}
	data, _, err := gitops.ReadFile(ctx, repo.Dir, "main", "apps/web/overlays/dev/kustomization.yaml", nil)
	if err != nil || !strings.Contains(string(data), "digest: "+digest(1)) {
		t.Fatalf("main's web dev overlay does not pin the digest (%v):\n%s", err, data)
	}
	if data, _, _ := gitops.ReadFile(ctx, repo.Dir, "main", "apps/api/overlays/dev/kustomization.yaml", nil); strings.Contains(string(data), "digest:") {
		t.Errorf("api's overlay changed with web's promotion:\n%s", data)
	}

	if _, err := repo.Commit(map[string]string{
		"apps/api/base/kustomization.yaml": "", "apps/api/base/deployment.yaml": "",
		"apps/api/overlays/dev/kustomization.yaml": "", "apps/api/overlays/prod/kustomization.yaml": "",
	}, "retire api", time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Promote(ctx, in("api")); !retry.IsPermanent(err) || !strings.Contains(err.Error(), `no app "api"`) {
		t.Errorf("Promote a removed app = %v, want a permanent unknown app", err)
	}
}
