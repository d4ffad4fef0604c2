package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestApplyDirectory(t *testing.T) {
	pod := "kind: Pod\nspec:\n  containers:\n  - name: web\n    image: ghcr.io/acme/web:v1\n"
	tests := []struct {
		name     string
		files    map[string]string
		path     string
		target   Target
		strategy string
		changed  []string
		err      string
	}{
		{
			name:  "marker detected in a directory",
			files: map[string]string{"env/a.yaml": "x: 1\n", "env/sub/b.yml": "image: ghcr.io/acme/web:v1 # conveyor:image web\n", "env/c.txt": "image: r:v1 # conveyor:image web\n"},
			path:  "env", target: Target{App: "web"}, strategy: StrategyMarker, changed: []string{"env/sub/b.yml"},
		},
		{
			name:  "raw skips files without the container",
			files: map[string]string{"env/pod.yaml": pod, "env/svc.yaml": "kind: Service\n", "env/.git/x.yaml": pod},
			path:  "./env/", target: Target{App: "web"}, strategy: StrategyRaw, changed: []string{"env/pod.yaml"},
		},
		{
			name:  "raw finds nothing",
			files: map[string]string{"env/svc.yaml": "kind: Service\n", "env/cm.yaml": "kind: ConfigMap\n"},
			path:  "env", target: Target{App: "web"},
			err: `env: none of 2 YAML files holds a container named "web"`,
		},
		{
			name:  "one file without the target keeps its message",
			files: map[string]string{"env/svc.yaml": "kind: Service\n"},
			path:  "env", target: Target{App: "web"},
			err: `env/svc.yaml: no workload (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob)`,
		},
		{
			name:  "kustomize directory without kustomization",
			files: map[string]string{"env/pod.yaml": pod},
			path:  "env", target: Target{Strategy: StrategyKustomize},
			err: `env: no kustomization file (kustomization.yaml, kustomization.yml, Kustomization)`,
		},
		{
			name:  "kustomize detected by Kustomization",
			files: map[string]string{"env/Kustomization": "images: []\n", "env/pod.yaml": pod},
			path:  "env", target: Target{App: "web"},
			err: `env/Kustomization: images: only a block sequence of images is supported`,
		},
		{
			name:  "escaping the root",
			files: map[string]string{"pod.yaml": pod},
			path:  "../pod.yaml", target: Target{App: "web"},
			err: `invalid target: path "../pod.yaml" is not relative to the repository root`,
		},
		{
			name:  "one bad file writes nothing",
			files: map[string]string{"env/a.yaml": pod, "env/b.yaml": "kind: Pod\nspec:\n  containers:\n  - {name: web, image: a}\n  - {name: web, image: b}\n"},
			path:  "env", target: Target{Strategy: StrategyRaw, App: "web"},
			err: `env/b.yaml: spec.containers[name=web]: 2 containers named "web" in Pod (unnamed)`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tc.files)
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			res, err := Apply(root, tc.path, tc.target, webRef)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("Apply error = %v, want %s", err, tc.err)
				}
				if diff := cmp.Diff(tc.files, readTree(t, dir)); diff != "" {
					t.Errorf("a failed Apply changed files (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if res.Strategy != tc.strategy {
				t.Errorf("strategy = %q, want %q", res.Strategy, tc.strategy)
			}
			if diff := cmp.Diff(tc.changed, res.Files()); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			got := readTree(t, dir)
			for name, data := range tc.files {
				if changed := got[name] != data; changed != contains(tc.changed, name) {
					t.Errorf("%s changed = %v", name, changed)
				}
			}
			if len(got) != len(tc.files) {
				t.Errorf("Apply left files behind: %v", got)
			}
		})
	}
}

func TestApplyKeepsMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pod.yaml")
	if err := os.WriteFile(p, []byte("kind: Pod\nspec:\n  containers:\n  - name: web\n    image: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := Apply(root, "pod.yaml", Target{App: "web"}, webRef); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after Apply = %v, %v; want 0600", fi.Mode(), err)
	}
}

func TestApplyOversize(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "big.yaml"), make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	_, err = Apply(root, "big.yaml", Target{Strategy: StrategyRaw, App: "web"}, webRef)
	if !errors.Is(err, ErrTooLarge) || err.Error() != "big.yaml: 1048577 bytes, over the limit of 1048576" {
		t.Errorf("Apply = %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
