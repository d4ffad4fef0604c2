package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

const discoverBase = `version: 1
templates:
  - name: chain
    environments:
      - {name: dev, path: "apps/{app}/overlays/dev", release: auto}
      - {name: prod, path: "apps/{app}/overlays/prod", reviewers: [alice]}
`

// discoverYAML is a pipeline with one discover rule of pattern.
func discoverYAML(pattern string) string {
	return discoverBase + fmt.Sprintf(`discover:
  - pattern: %q
    template: chain
    image: "registry.example.com/acme/{app}"
    source: {repo: "https://github.com/acme/{app}"}
`, pattern)
}

// tree holds the directories named, each with one file.
func tree(dirs ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, d := range dirs {
		fsys[d+"/kustomization.yaml"] = &fstest.MapFile{Data: []byte("resources: []\n")}
	}
	return fsys
}

// TestDiscovered finds apps for patterns of several shapes: sorted by
// name, only directories, hidden ones skipped, {env} limited to the
// template's environments in its order.
func TestDiscovered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pattern string
		tree    fstest.MapFS
		want    []Found
	}{
		{"app and env", "apps/{app}/overlays/{env}",
			tree("apps/web/overlays/prod", "apps/web/overlays/dev", "apps/api/overlays/dev", "apps/api/overlays/qa", "apps/.hidden/overlays/dev", "apps/lib/base"),
			[]Found{{App: "api", Envs: []string{"dev"}}, {App: "web", Envs: []string{"dev", "prod"}}}},
		{"app only", "apps/{app}",
			tree("apps/web", "apps/api"),
			[]Found{{App: "api"}, {App: "web"}}},
		{"env before app", "clusters/{env}/{app}",
			tree("clusters/prod/web", "clusters/dev/zeta", "clusters/dev/web"),
			[]Found{{App: "web", Envs: []string{"dev", "prod"}}, {App: "zeta", Envs: []string{"dev"}}}},
		{"nothing there", "apps/{app}/overlays/{env}", tree("charts/web"), nil},
		{"a file is not an app", "apps/{app}", fstest.MapFS{"apps/web": &fstest.MapFile{Data: []byte("x")}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("conveyor.yaml", []byte(discoverYAML(tc.pattern)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := cfg.Discovered(tc.tree)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("found (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDiscoverRejects refuses patterns that would leave the repository or
// match more than names, and rules an app could not be built from, each
// at its line.
func TestDiscoverRejects(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"parent", discoverYAML("../{app}"), `conveyor.yaml:8:14: discover[0].pattern: must be a clean path with no empty, "." or ".." segment, got "../{app}"`},
		{"parent inside", discoverYAML("apps/../../{app}"), `discover[0].pattern: must be a clean path`},
		{"absolute", discoverYAML("/etc/{app}"), `discover[0].pattern: must be a relative, slash-separated path, got "/etc/{app}"`},
		{"backslash", discoverYAML(`apps\{app}`), `must be a relative, slash-separated path`},
		{"no app", discoverYAML("apps/{env}"), `must hold {app} exactly once and {env} at most once`},
		{"two apps", discoverYAML("{app}/{app}"), `must hold {app} exactly once`},
		{"glob", discoverYAML("apps/*/{app}"), `segment "*": only {app} and {env}`},
		{"partial segment", discoverYAML("apps/svc-{app}"), `segment "svc-{app}"`},
		{"unknown template", strings.Replace(discoverYAML("apps/{app}"), "template: chain", "template: nope", 1), `discover[0].template: unknown template "nope"`},
		{"unknown default template", strings.Replace(strings.Replace(discoverYAML("apps/{app}"), "    template: chain\n", "", 1), "version: 1\n", "version: 1\ndefaults: {template: nope}\n", 1), `conveyor.yaml:2:22: defaults.template: unknown template "nope": discover[0] takes its environments from it`},
		{"no template", strings.Replace(discoverYAML("apps/{app}"), "    template: chain\n", "", 1), `discover[0]: missing required field "template" (or set defaults.template)`},
		{"tagged image", strings.Replace(discoverYAML("apps/{app}"), `acme/{app}"`, `acme/{app}:latest"`, 1), `discover[0].image: must be an image repository without a tag`},
		{"unknown key", discoverYAML("apps/{app}") + "    pattrn: x\n", `discover[0].pattrn: unknown field "pattrn" (did you mean "pattern"?)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("conveyor.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestDiscoverCap refuses a pattern that finds more than MaxDiscovered
// apps, naming the rule, rather than expanding them.
func TestDiscoverCap(t *testing.T) {
	cfg, err := Parse("conveyor.yaml", []byte(discoverYAML("apps/{app}")))
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	for i := range MaxDiscovered + 1 {
		fsys[fmt.Sprintf("apps/a%05d/x", i)] = &fstest.MapFile{}
	}
	found, err := cfg.Discovered(fsys)
	if !errors.Is(err, ErrTooManyDiscovered) || found != nil {
		t.Fatalf("Discovered = %d apps, %v; want ErrTooManyDiscovered", len(found), err)
	}
	if want := fmt.Sprintf(`conveyor.yaml:8:5: discover[0]: pattern "apps/{app}" finds more than %d apps: narrow it`, MaxDiscovered); err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	delete(fsys, "apps/a00000/x")
	if found, err := cfg.Discovered(fsys); err != nil || len(found) != MaxDiscovered {
		t.Errorf("Discovered at the cap = %d apps, %v; want %d", len(found), err, MaxDiscovered)
	}
}

// TestParseTreeExpands checks the apps a tree gives: the template's paths
// with the app's name, a written app of the same name kept as written, and
// a directory that is no DNS label reported at the rule.
func TestParseTreeExpands(t *testing.T) {
	data := discoverYAML("apps/{app}/overlays/{env}") + `apps:
  - name: api
    source: {repo: "https://github.com/acme/api-server"}
    image: registry.example.com/acme/api-server
    environments: [{name: dev, path: apps/api/overlays/dev, release: auto}]
`
	cfg, found, err := ParseTree("conveyor.yaml", []byte(data), tree("apps/api/overlays/dev", "apps/web/overlays/dev", "apps/web/overlays/prod"))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 {
		t.Errorf("found %d apps, want 2 (api and web)", len(found))
	}
	var got []string
	for _, a := range cfg.Apps {
		got = append(got, a.Name+" "+a.Image+" "+a.Pos.Path)
	}
	want := []string{"api registry.example.com/acme/api-server apps[0]", "web registry.example.com/acme/web discover[0].apps.web"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("apps (-want +got):\n%s", diff)
	}
	web, ok := cfg.App("web")
	if !ok || len(web.Environments) != 2 || web.Environments[1].Path != "apps/web/overlays/prod" || web.Environments[1].Reviewers[0] != "alice" {
		t.Errorf("web = %+v, want the template's dev and prod at its own paths", web)
	}

	_, _, err = ParseTree("conveyor.yaml", []byte(discoverYAML("apps/{app}")), tree("apps/Web_App"))
	if want := `conveyor.yaml:8:14: discover[0].apps.Web_App.name: must be a DNS label`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ParseTree with a bad directory name = %v, want %q", err, want)
	}
}

// TestDiscoveredSkipsSymlinks does not follow a symbolic link, to a
// directory in the repository or out of it: a link could make one app
// two, or bring in a tree that is not the repository's.
func TestDiscoveredSkipsSymlinks(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	for _, d := range []string{filepath.Join(dir, "apps/web/overlays/dev"), filepath.Join(outside, "overlays/dev")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"apps/alias": "web", "apps/escape": outside, "apps/web/overlays/prod": "dev"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := Parse("conveyor.yaml", []byte(discoverYAML("apps/{app}/overlays/{env}")))
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	got, err := cfg.Discovered(root.FS())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Found{{App: "web", Envs: []string{"dev"}}}, got); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}
}
