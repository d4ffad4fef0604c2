package onboard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/google/go-cmp/cmp"
)

// kustomizeCopy copies the Kustomize fixture into a temporary directory
// and adds, for each of apps, a copy of podinfo named after it (its
// overlays, base and image), plus extra files; it returns the directory.
func kustomizeCopy(t *testing.T, apps []string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "kustomize"))); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("testdata", "kustomize", "apps", "podinfo")
	for _, app := range apps {
		err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			extra[filepath.Join("apps", app, rel)] = strings.ReplaceAll(string(b), "podinfo", app)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range extra {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// appShape is what TestInitProposesDiscovery compares of an app.
type appShape struct {
	Name, Image, Source string
	Envs                []string // name path strategy release reviewers
}

func shapes(cfg *config.Config) []appShape {
	var out []appShape
	for _, a := range cfg.Apps {
		s := appShape{Name: a.Name, Image: a.Image, Source: a.Source.Repo}
		for _, e := range a.Environments {
			s.Envs = append(s.Envs, strings.Join([]string{e.Name, strings.Join(e.Locations(), ","), string(e.Strategy), string(e.Release), strings.Join(e.Reviewers, ",")}, " "))
		}
		out = append(out, s)
	}
	return out
}

// TestInitProposesDiscovery: apps laid out alike (apps/<app>/overlays/<env>,
// images named after the apps) are proposed as one discover rule and one
// template, which the parser expands, against the repository, into the
// very apps a list would have named; a layout the rule would read more
// into, or apps whose chains differ, are listed one by one.
func TestInitProposesDiscovery(t *testing.T) {
	envs := func(app string) []string {
		return []string{
			"dev apps/" + app + "/overlays/dev kustomize auto ",
			"staging apps/" + app + "/overlays/staging kustomize manual alice,acme/sre",
			"production apps/" + app + "/overlays/production kustomize manual alice,acme/sre",
		}
	}
	for _, tc := range []struct {
		name     string
		apps     []string
		extra    map[string]string
		remove   string
		discover bool
		want     []appShape
	}{
		{name: "two apps alike", apps: []string{"web"}, discover: true, want: []appShape{
			{"podinfo", "ghcr.io/stefanprodan/podinfo", "acme/podinfo", envs("podinfo")},
			{"web", "ghcr.io/stefanprodan/web", "acme/web", envs("web")},
		}},
		{name: "one app", discover: false, want: []appShape{
			{"podinfo", "ghcr.io/stefanprodan/podinfo", "acme/podinfo", envs("podinfo")},
		}},
		{name: "a directory the rule would take for an app", apps: []string{"web"},
			extra:    map[string]string{"apps/docs/overlays/dev/kustomization.yaml": "resources: [configmap.yaml]\n", "apps/docs/overlays/dev/configmap.yaml": "kind: ConfigMap\n"},
			discover: false, want: []appShape{
				{"podinfo", "ghcr.io/stefanprodan/podinfo", "acme/podinfo", envs("podinfo")},
				{"web", "ghcr.io/stefanprodan/web", "acme/web", envs("web")},
			}},
		{name: "an app without the first environment", apps: []string{"web"},
			remove: "apps/web/overlays/dev", discover: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := map[string]string{}
			for k, v := range tc.extra {
				extra[k] = v
			}
			dir := kustomizeCopy(t, tc.apps, extra)
			for k, v := range tc.extra {
				// The extra files win over the copies of podinfo.
				if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.remove != "" {
				if err := os.RemoveAll(filepath.Join(dir, tc.remove)); err != nil {
					t.Fatal(err)
				}
			}
			tree := os.DirFS(dir)
			found, err := Scan(tree)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Propose(found, Options{Source: "acme", Reviewers: []string{"alice", "acme/sre"}})
			if err != nil {
				t.Fatal(err)
			}
			out := Render(p, RenderOptions{Tree: tree})
			cfg, _, err := config.ParseTree("conveyor.yaml", out, tree)
			if err != nil {
				t.Fatalf("the proposal does not parse: %v\n%s", err, out)
			}
			if got := len(cfg.Discover) == 1 && strings.Contains(string(out), `pattern: "apps/{app}/overlays/{env}"`); got != tc.discover {
				t.Errorf("a discover rule proposed: %v, want %v:\n%s", got, tc.discover, out)
			}
			if tc.discover && strings.Contains(string(out), "\napps:") {
				t.Errorf("the apps are both discovered and listed:\n%s", out)
			}
			if err := matchSchema(t, out); err != nil {
				t.Errorf("the proposal does not match the schema: %v\n%s", err, out)
			}
			if tc.want != nil {
				if diff := cmp.Diff(tc.want, shapes(cfg)); diff != "" {
					t.Errorf("apps (-want +got):\n%s\nfile:\n%s", diff, out)
				}
			}
		})
	}
}
