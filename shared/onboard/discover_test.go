package onboard

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDiscoverChecksTheApps expands a discover rule against a monorepo on
// disk, as `conveyor validate --repo` does: it says which apps each rule
// became and which a written app took over, and CheckRepo then checks the
// discovered apps' environments like written ones, naming the app and
// pointing at the template line.
func TestDiscoverChecksTheApps(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"apps/web/overlays/dev", "apps/web/overlays/prod", "apps/api/overlays/dev", "apps/docs/overlays/dev"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
		k := "resources: []\nimages:\n  - name: registry.example.com/acme/" + filepath.Base(filepath.Dir(filepath.Dir(p))) + "\n"
		if err := os.WriteFile(filepath.Join(dir, p, "kustomization.yaml"), []byte(k), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data := []byte(`version: 1
templates:
  - name: chain
    environments:
      - {name: dev, path: "apps/{app}/overlays/dev", strategy: kustomize, release: auto}
      - {name: prod, path: "apps/{app}/overlays/prod", strategy: kustomize, reviewers: [alice]}
discover:
  - pattern: "apps/{app}"
    template: chain
    image: "registry.example.com/acme/{app}"
    source: {repo: "https://github.com/acme/{app}"}
apps:
  - name: docs
    template: chain
    source: {repo: "https://github.com/acme/site"}
    image: registry.example.com/acme/docs
    environments: [{name: prod, path: apps/docs/overlays/dev}]
`)
	fsys := os.DirFS(dir)
	cfg, lines, err := Discover(fsys, "conveyor.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`discover[0] "apps/{app}": 2 app(s): api (dev, prod), web (dev, prod); written under apps: or by an earlier rule, so not discovered: docs`}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	var got []string
	for _, e := range CheckRepo(fsys, cfg, data) {
		got = append(got, e.Error())
	}
	// api has no prod overlay: without {env} in the pattern it gets the
	// whole chain, and the template's line is where to look.
	wantErrs := []string{`conveyor.yaml:6:9: discover[0].apps.api.environments[1].path: "apps/api/overlays/prod" does not exist in the repository (apps/api/overlays holds [dev]): create it, or fix the path`}
	if diff := cmp.Diff(wantErrs, got); diff != "" {
		t.Errorf("CheckRepo (-want +got):\n%s", diff)
	}
}
