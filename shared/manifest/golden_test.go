package manifest

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*/expected and testdata/*/changes.golden")

const (
	oldDigest = "sha256:cba06b5736faf67e54b07b561eae94395e774c517a7d910a54369e1263ccfbd4"
	newDigest = "sha256:4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2"
)

var webRef = Ref{Repository: "ghcr.io/acme/web", Tag: "v1.4.0", Digest: newDigest}

// mirrorRef is webRef pushed to a mirror: the manifests still name
// ghcr.io/acme/web (a registry move, Kustomize newName).
var mirrorRef = Ref{Repository: "registry.example.com/mirror/web", Tag: "v1.4.0", Digest: newDigest}

// goldenCases edit testdata/<name>/original into testdata/<name>/expected,
// reporting testdata/<name>/changes.golden.
var goldenCases = []struct {
	name   string
	path   string // file or directory under the tree
	target Target
	ref    Ref
}{
	{"kustomize-comments-digest", "envs/dev", Target{App: "web"}, webRef},
	{"kustomize-add-digest", "kustomization.yaml", Target{Strategy: StrategyKustomize}, webRef},
	{"kustomize-append", ".", Target{}, webRef},
	{"kustomize-newname", ".", Target{Repository: "web", KeepTag: true}, webRef},
	{"kustomize-create-images", ".", Target{}, webRef},
	{"kustomize-overlay-subdirs", "apps/web/overlays/dev", Target{App: "web"}, webRef},
	{"helm-image-string", "charts/web/values-dev.yaml", Target{HelmImage: "app.image"}, webRef},
	{"helm-repository-digest", "values.yaml", Target{HelmRepository: "image.repository", HelmDigest: "image.digest", HelmTag: "image.tag"}, webRef},
	{"helm-repository-tag", "charts/guestbook/values-prod.yaml", Target{HelmRepository: "image.repository", HelmTag: "image.tag"}, webRef},
	{"helmrelease-insert-image", "clusters/prod/web.yaml", Target{Strategy: StrategyHelm, HelmRepository: "spec.values.image.repository", HelmTag: "spec.values.image.tag"}, webRef},
	{"kustomize-registry-move", "overlays/prod", Target{Repository: "ghcr.io/acme/web"}, mirrorRef},
	{"helm-anchors", ".", Target{Strategy: StrategyHelm, HelmRepository: "web.image.repository", HelmDigest: "web.image.digest"}, webRef},
	{"raw-multidoc", "envs/dev", Target{App: "web", Container: "web", MatchRepository: true}, webRef},
	{"raw-crlf", "deploy.yaml", Target{Strategy: StrategyRaw, Container: "web"}, webRef},
	{"marker-values", "values.yaml", Target{App: "web", KeepTag: true}, webRef},
	{"quoting", "deploy.yaml", Target{App: "web"}, webRef},
	{"odd-indentation", "values.yaml", Target{HelmRepository: "web.image.repository", HelmDigest: "web.image.digest", HelmTag: "web.image.tag", KeepTag: true}, webRef},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			base := filepath.Join("testdata", tc.name)
			original := readTree(t, filepath.Join(base, "original"))
			fsys := mapFS(original)

			strategy, err := Detect(fsys, tc.path, tc.target)
			if err != nil {
				t.Fatalf("Detect: %v", err)
			}
			writes, changes, err := EditTree(fsys, tc.path, tc.target, tc.ref)
			if err != nil {
				t.Fatalf("EditTree: %v", err)
			}
			got := overlay(original, writes)
			report := formatChanges(strategy, changes)
			if *update {
				if err := os.RemoveAll(filepath.Join(base, "expected")); err != nil {
					t.Fatal(err)
				}
				writeTree(t, filepath.Join(base, "expected"), got)
				if err := os.WriteFile(filepath.Join(base, "changes.golden"), []byte(report), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(readTree(t, filepath.Join(base, "expected")), got); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
			want, err := os.ReadFile(filepath.Join(base, "changes.golden"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), report); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}

			// Idempotency: the same ref on the edited tree changes nothing.
			again, more, err := EditTree(mapFS(got), tc.path, tc.target, tc.ref)
			if err != nil {
				t.Fatalf("second EditTree: %v", err)
			}
			if len(again) != 0 || len(more) != 0 {
				t.Errorf("second EditTree wrote %d files, changes %v", len(again), more)
			}
		})
	}
}

func formatChanges(strategy string, changes []Change) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "strategy: %s\n", strategy)
	for _, c := range changes {
		fmt.Fprintf(&b, "%s:%d: %s: %q -> %q\n", c.File, c.Line, c.Path, c.Old, c.New)
	}
	return b.String()
}

// mapFS serves a tree of files by slash path.
func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data), Mode: 0o644}
	}
	return fsys
}

// overlay returns files with writes applied.
func overlay(files map[string]string, writes map[string][]byte) map[string]string {
	out := map[string]string{}
	for name, data := range files {
		out[name] = data
	}
	for name, data := range writes {
		out[name] = string(data)
	}
	return out
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
