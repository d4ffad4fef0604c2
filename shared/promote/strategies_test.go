package promote_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/promote"
)

// TestEveryStrategy promotes one digest into four environments, each
// written with a different strategy, and checks the branch commit: the
// target line changes to repo@digest and nothing else in the file does.
func TestEveryStrategy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "manual")
	files := map[string]string{
		"helm/values.yaml":            "# web chart values\nreplicaCount: 2\nimage:\n  repository: registry.example.com/acme/web\n  digest: \"\"   # set by Conveyor\n  pullPolicy: IfNotPresent\n",
		"raw/deploy.yaml":             "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: registry.example.com/acme/web:old # pinned by Conveyor\n        - name: proxy\n          image: envoyproxy/envoy:v1.30.1\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
		"envs/dev/kustomization.yaml": "resources:\n  - ../../base\nimages:\n  - name: " + image + "\n    digest: " + digest(1) + " # the released one\n",
		"marker/app.yaml":             "web:\n  image: 'registry.example.com/acme/web:old'  # conveyor:image web\n  port: 8080\n",
	}
	if _, err := f.repo.Commit(files, "more layouts", time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("conveyor.yaml", []byte(fmt.Sprintf(`version: 1
apps:
  - name: web
    source: {repo: %s}
    image: %s
    environments:
      - {name: dev, path: envs/dev, strategy: kustomize, reviewers: [alice]}
      - {name: helm, path: helm/values.yaml, strategy: helm, helm: {repository: image.repository, digest: image.digest}, reviewers: [alice]}
      - {name: raw, path: raw, strategy: raw, reviewers: [alice]}
      - {name: marker, path: marker/app.yaml, strategy: marker, reviewers: [alice]}
`, filepath.Join(t.TempDir(), "web"), image)))
	if err != nil {
		t.Fatal(err)
	}
	f.p.Config = func(context.Context) (*config.Config, error) { return cfg, nil }
	d := digest(9)
	for _, tc := range []struct {
		env, file, want string
	}{
		{"dev", "envs/dev/kustomization.yaml", "    digest: " + d + " # the released one"},
		{"helm", "helm/values.yaml", "  digest: \"" + d + "\"   # set by Conveyor"},
		{"raw", "raw/deploy.yaml", "          image: " + image + "@" + d + " # pinned by Conveyor"},
		{"marker", "marker/app.yaml", "  image: '" + image + "@" + d + "'  # conveyor:image web"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			in := event.Promotion{App: "web", Environment: tc.env, Image: image, Digest: d}
			out, err := f.p.Promote(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if out.Action != promote.Opened || len(out.Changes) == 0 {
				t.Fatalf("%s: %s with %d changes", tc.env, out.Action, len(out.Changes))
			}
			before, _, _ := gitops.ReadFile(ctx, f.repo.Dir, "main", tc.file, nil)
			after, _, err := gitops.ReadFile(ctx, f.repo.Dir, promote.Branch("web", tc.env), tc.file, nil)
			if err != nil {
				t.Fatal(err)
			}
			bl, al := strings.Split(string(before), "\n"), strings.Split(string(after), "\n")
			if len(bl) != len(al) {
				t.Fatalf("%s: %d lines became %d", tc.file, len(bl), len(al))
			}
			changed := 0
			for i := range bl {
				if bl[i] != al[i] {
					changed++
					if al[i] != tc.want {
						t.Errorf("%s:%d is %q, want %q", tc.file, i+1, al[i], tc.want)
					}
				}
			}
			if changed != 1 {
				t.Fatalf("%s: %d lines changed, want exactly the target", tc.file, changed)
			}
		})
	}
	_ = demo.Secret
}
