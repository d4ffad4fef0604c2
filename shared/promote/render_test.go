package promote

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// overlayTree is an app laid out as real repositories often are: a base
// whose configMapGenerator reads scripts/, and an overlay whose patches
// sit in patches/.
func overlayTree() fstest.MapFS {
	files := map[string]string{
		"apps/web/base/kustomization.yaml": "resources:\n  - deployment.yaml\nconfigMapGenerator:\n  - name: web-scripts\n    files:\n      - scripts/warm-cache.sh\n      - scripts/probe.sh\n",
		"apps/web/base/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: " + stepImage + ":1.0.0\n" +
			"          volumeMounts:\n            - {name: scripts, mountPath: /scripts}\n      volumes:\n        - name: scripts\n          configMap: {name: web-scripts}\n",
		"apps/web/base/scripts/warm-cache.sh":          "#!/bin/sh\necho warming\n",
		"apps/web/base/scripts/probe.sh":               "#!/bin/sh\nexit 0\n",
		"apps/web/overlays/dev/kustomization.yaml":     "resources:\n  - ../../base\npatches:\n  - path: patches/replicas.yaml\n  - path: patches/resources.yaml\n",
		"apps/web/overlays/dev/patches/replicas.yaml":  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n",
		"apps/web/overlays/dev/patches/resources.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          resources: {limits: {memory: 128Mi}}\n",
	}
	fsys := fstest.MapFS{}
	for p, data := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(data), Mode: 0o644}
	}
	return fsys
}

// TestVerifyRender renders overlays after the edit, through EditTree as a
// promotion does, and checks what the render check accepts and refuses.
func TestVerifyRender(t *testing.T) {
	ref := manifest.Ref{Repository: stepImage, Digest: stepDigest(7)}
	for _, tc := range []struct {
		name        string
		change      map[string]string // files replacing or adding to overlayTree
		image       string            // the app's image, when not stepImage
		fetchRemote bool
		err         string // "" when the render is accepted
	}{
		{name: "generator files in scripts/ and patches in patches/"},
		{name: "a generator file missing", change: map[string]string{"apps/web/base/kustomization.yaml": "resources: [deployment.yaml]\nconfigMapGenerator:\n  - name: web-scripts\n    files: [scripts/missing.sh]\n"},
			err: "missing.sh"},
		{name: "an images: entry no container uses", image: "registry.example.com/acme/other", err: "no workload uses"},
		{name: "a remote base is not fetched",
			change: map[string]string{"apps/web/overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n  - https://github.com/example/platform//monitoring?ref=v1.2.0\n"},
			err:    "remote base https://github.com/example/platform//monitoring?ref=v1.2.0, which the render check fetches only when fetching remote bases is enabled"},
		{name: "a remote base that cannot be fetched", fetchRemote: true,
			change: map[string]string{"apps/web/overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n  - https://127.0.0.1:1/monitoring.yaml\n"},
			err:    "remote bases https://127.0.0.1:1/monitoring.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := overlayTree()
			for p, data := range tc.change {
				fsys[p] = &fstest.MapFile{Data: []byte(data), Mode: 0o644}
			}
			image := stepImage
			if tc.image != "" {
				image = tc.image
			}
			app := &config.App{Name: "web", Image: image}
			env := &config.Environment{Name: "dev", Path: "apps/web/overlays/dev"}
			writes, _, err := editEnv(fsys, app, env, manifest.Ref{Repository: image, Digest: ref.Digest})
			if err != nil {
				t.Fatal(err)
			}
			dirs := overlayDirs(writes)
			if len(dirs) != 1 || dirs[0] != env.Path {
				t.Fatalf("overlayDirs = %q, want [%s]", dirs, env.Path)
			}
			dir := dirs[0]
			err = verifyRender(fsys, writes, dir, manifest.Ref{Repository: image, Digest: ref.Digest}, false, tc.fetchRemote)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("verifyRender = %v, want the overlay accepted", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !retry.IsPermanent(err) {
				t.Fatalf("verifyRender = %v, want a permanent error containing %q", err, tc.err)
			}
		})
	}
}

// TestKustFSReadOnly proves kustomize cannot change the snapshot, nor
// remove anything but its own clones.
func TestKustFSReadOnly(t *testing.T) {
	k := newKustFS(overlayTree(), true)
	if _, err := k.Create("/apps/new.yaml"); !errors.Is(err, errReadOnly) {
		t.Errorf("Create = %v", err)
	}
	for name, err := range map[string]error{
		"WriteFile": k.WriteFile("/apps/web/base/deployment.yaml", nil),
		"Mkdir":     k.Mkdir("/apps/x"),
		"MkdirAll":  k.MkdirAll("/apps/x/y"),
		"RemoveAll": k.RemoveAll("/apps"),
	} {
		if !errors.Is(err, errReadOnly) {
			t.Errorf("%s = %v, want errReadOnly", name, err)
		}
	}
	f, err := k.Open("/apps/web/base/scripts/probe.sh")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("x")); !errors.Is(err, errReadOnly) {
		t.Errorf("Write = %v", err)
	}
	if dir, file, err := k.CleanedAbs("/apps/web/base/scripts/probe.sh"); err != nil || dir != "/apps/web/base/scripts" || file != "probe.sh" {
		t.Errorf("CleanedAbs = %q, %q, %v", dir, file, err)
	}
	if k.Exists("/etc/passwd") {
		t.Error("a file outside the snapshot is visible")
	}
}

// BenchmarkVerifyRender measures what the render check adds to a promotion
// of a representative overlay (a base with a generator reading scripts/,
// an overlay with two patches in patches/).
func BenchmarkVerifyRender(b *testing.B) {
	fsys := overlayTree()
	app := &config.App{Name: "web", Image: stepImage}
	env := &config.Environment{Name: "dev", Path: "apps/web/overlays/dev"}
	ref := manifest.Ref{Repository: stepImage, Digest: stepDigest(7)}
	writes, _, err := editEnv(fsys, app, env, ref)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := verifyRender(fsys, writes, env.Path, ref, false, false); err != nil {
			b.Fatal(err)
		}
	}
}
