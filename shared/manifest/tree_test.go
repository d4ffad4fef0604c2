package manifest

import (
	"errors"
	"sort"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// TestEditTreeDirectory checks the directory rules: which files a
// directory contributes and how a strategy is detected for it.
func TestEditTreeDirectory(t *testing.T) {
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
			name:  "helm directory edits its values.yaml",
			files: map[string]string{"chart/values.yaml": "image:\n  repository: ghcr.io/acme/web\n  digest: \"\"\n", "chart/templates/deploy.yaml": "{{ .Values.image.repository }}\n"},
			path:  "chart", target: Target{HelmRepository: "image.repository", HelmDigest: "image.digest"}, strategy: StrategyHelm, changed: []string{"chart/values.yaml"},
		},
		{
			name:  "helm directory without values.yaml",
			files: map[string]string{"chart/Chart.yaml": "name: web\n"},
			path:  "chart", target: Target{Strategy: StrategyHelm, HelmImage: "image"},
			err: `chart: no values.yaml`,
		},
		{
			name:  "raw skips a template that is not YAML",
			files: map[string]string{"env/pod.yaml": pod, "env/tpl.yaml": "{{- if .Values.x }}\nkind: [\n"},
			path:  "env", target: Target{App: "web"}, strategy: StrategyRaw, changed: []string{"env/pod.yaml"},
		},
		{
			name:  "a missing path",
			files: map[string]string{"pod.yaml": pod},
			path:  "envs/prod", target: Target{App: "web"},
			err: `envs/prod: no such file or directory`,
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
			fsys := mapFS(tc.files)
			writes, changes, err := EditTree(fsys, tc.path, tc.target, webRef)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("EditTree error = %v, want %s", err, tc.err)
				}
				if len(writes) != 0 {
					t.Errorf("a failed EditTree returned writes for %v", keys(writes))
				}
				return
			}
			if err != nil {
				t.Fatalf("EditTree: %v", err)
			}
			strategy, err := Detect(fsys, tc.path, tc.target)
			if err != nil || strategy != tc.strategy {
				t.Errorf("Detect = %q, %v; want %q", strategy, err, tc.strategy)
			}
			if diff := cmp.Diff(tc.changed, keys(writes)); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			var files []string
			for _, c := range changes {
				if !contains(files, c.File) {
					files = append(files, c.File)
				}
			}
			if diff := cmp.Diff(tc.changed, files); diff != "" {
				t.Errorf("changed files reported (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEditTreeOversize proves a file over MaxFileSize is refused, named with
// its size, before it is read.
func TestEditTreeOversize(t *testing.T) {
	fsys := fstest.MapFS{"big.yaml": {Data: make([]byte, MaxFileSize+1)}}
	_, _, err := EditTree(fsys, "big.yaml", Target{Strategy: StrategyRaw, App: "web"}, webRef)
	if !errors.Is(err, ErrTooLarge) || err.Error() != "big.yaml: 1048577 bytes, over the limit of 1048576" {
		t.Errorf("EditTree = %v", err)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
