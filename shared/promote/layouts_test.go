package promote_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/google/go-cmp/cmp"
)

// TestLayouts promotes into the layouts of testdata/layouts/<case>/original
// and checks the outcome: a pull request whose branch holds
// testdata/layouts/<case>/expected, or a permanent refusal and no pull
// request. The Helm cases prove the render check: a chart that renders the
// promoted digest into a workload passes; a chart whose templates never
// read the value written is refused; a chart that cannot be rendered from
// the repository alone is proposed with a body that says so. The others are
// layouts conveyor.yaml must express: a registry move (the overlay names
// another image: Kustomize newName), a HelmRelease without image: values,
// and one environment over several paths, promoted in one pull request.
func TestLayouts(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, path, helm string
		env              string // the environment's other fields, when not helm
		wantErr          string // a permanent refusal
		wantNote         string // in the PR body; "" means rendered, no note
	}{
		{name: "helm-repository-tag", path: "charts/guestbook/values-prod.yaml", helm: "{repository: image.repository, tag: image.tag}"},
		{name: "helm-ignores-digest", path: "charts/guestbook/values-prod.yaml", helm: "{repository: image.repository, digest: image.digest}",
			wantErr: "no workload uses " + image + "@sha256:"},
		{name: "helm-vendored-dependency", path: "platform/values.yaml", helm: "{repository: web.image.repository, digest: web.image.digest}"},
		{name: "helm-missing-dependency", path: "platform/values.yaml", helm: "{repository: web.image.repository, digest: web.image.digest}",
			wantNote: "dependency web of chart platform is not vendored in charts/"},
		{name: "helmrelease-remote-chart", path: "clusters/prod/web/release.yaml", helm: "{repository: spec.values.image.repository, tag: spec.values.image.tag}",
			wantNote: "no Chart.yaml beside or above `clusters/prod/web/release.yaml` (a chart from a chart repository is not fetched)"},
		{name: "helm-needs-cluster-values", path: "charts/guestbook/values-prod.yaml", helm: "{repository: image.repository, tag: image.tag}",
			wantNote: "does not render from the repository alone, before this edit as after it"},
		{name: "registry-move", env: "path: overlays/prod, image: {name: ghcr.io/acme/web}"},
		{name: "multi-path", env: "paths: [envs/prod-eu, envs/prod-us]"},
		{name: "helmrelease-insert-image", path: "clusters/prod/web.yaml", helm: "{repository: spec.values.image.repository, tag: spec.values.image.tag}",
			wantNote: "no Chart.yaml beside or above `clusters/prod/web.yaml`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "manual")
			base := filepath.Join("testdata", "layouts", tc.name)
			original := readTree(t, filepath.Join(base, "original"))
			if _, err := f.repo.Commit(original, tc.name, time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
			env := tc.env
			if env == "" {
				env = fmt.Sprintf("path: %s, strategy: helm, helm: %s", tc.path, tc.helm)
			}
			cfg, err := config.Parse("conveyor.yaml", []byte(fmt.Sprintf(`version: 1
apps:
  - name: web
    source: {repo: /src/web}
    image: %s
    environments:
      - {name: prod, %s, reviewers: [alice]}
`, image, env)))
			if err != nil {
				t.Fatal(err)
			}
			f.p.Config = func(context.Context) (*config.Config, error) { return cfg, nil }
			in := event.Promotion{App: "web", Environment: "prod", Image: image, Digest: digest(42), Tag: "v1.4.2"}
			start := time.Now()
			out, err := f.p.Promote(ctx, in)
			t.Logf("promotion with the render check: %v", time.Since(start))
			if tc.wantErr != "" {
				if err == nil || !retry.IsPermanent(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Promote = %v; want a permanent error containing %q", err, tc.wantErr)
				}
				if prs, _ := f.forge.List(ctx, ""); len(prs) != 0 {
					t.Fatal("a pull request was opened for a chart that deploys nothing new")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Action != promote.Opened {
				t.Fatalf("action %s, want %s", out.Action, promote.Opened)
			}
			switch body := out.PR.Body; {
			case tc.wantNote == "" && strings.Contains(body, "Not rendered"):
				t.Errorf("PR body notes a render that should have run:\n%s", body)
			case tc.wantNote != "" && !strings.Contains(body, "> **Not rendered.** ") || !strings.Contains(body, tc.wantNote):
				t.Errorf("PR body lacks the note %q:\n%s", tc.wantNote, body)
			}
			got := map[string]string{}
			for name := range original {
				data, _, err := gitops.ReadFile(ctx, f.repo.Dir, promote.Branch("web", "prod"), name, nil)
				if err != nil {
					t.Fatal(err)
				}
				got[name] = string(data)
			}
			if *update {
				writeTree(t, filepath.Join(base, "expected"), got)
			}
			if diff := cmp.Diff(readTree(t, filepath.Join(base, "expected")), got); diff != "" {
				t.Errorf("branch tree (-want +got):\n%s", diff)
			}
		})
	}
}

// readTree returns every file under dir by slash path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
