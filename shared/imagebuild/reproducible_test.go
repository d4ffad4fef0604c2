package imagebuild

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var reproFiles = map[string]string{
	"app/server":          "#!/bin/sh\nexec true\n",
	"app/static/a.css":    "body{}",
	"app/static/b/c.html": "<p>hi</p>",
	"app/link":            "->static/a.css",
	"README.md":           "readme",
}

const reproDockerfile = `FROM scratch
COPY app /app
COPY README.md /
ENTRYPOINT ["/app/server"]
`

// loosen gives a context the host differences a build must ignore: group
// write bits (another umask), other owners where allowed, other mtimes.
func loosen(t *testing.T, dir string, mtime time.Time) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			return err
		}
		if err := os.Chmod(p, fi.Mode().Perm()|0o020); err != nil {
			return err
		}
		_ = os.Lchown(p, 4321, 4321) // only works as root; fine either way
		return os.Chtimes(p, mtime, mtime)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBuildIsReproducible(t *testing.T) {
	first := writeContext(t, reproFiles, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
	second := writeContext(t, reproFiles, time.Now())
	loosen(t, second, time.Now().Add(-time.Hour))

	changed := map[string]string{}
	for k, v := range reproFiles {
		changed[k] = v
	}
	changed["app/static/a.css"] = "body{}\n" // one byte more
	third := writeContext(t, changed, time.Now())

	digest := func(dir string) v1.Hash {
		t.Helper()
		// A fresh registry each time, so every build really pushes.
		reg := newRegistry(t)
		res, err := buildDockerfile(t, dir, reproDockerfile, reg.repo(t, "acme/repro"))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Pushed {
			t.Fatalf("build of %s was not pushed", dir)
		}
		return res.Digest
	}
	d1 := digest(first)
	time.Sleep(1100 * time.Millisecond) // another wall-clock second
	d2 := digest(second)
	if d1 != d2 {
		t.Errorf("same context, different host metadata and wall clock: digests %s and %s differ", d1, d2)
	}
	if d3 := digest(third); d3 == d1 {
		t.Errorf("one byte changed, digest %s unchanged", d3)
	}
}

func TestBuildMultiPlatform(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBaseIndex(t, "base/multi")
	dir := writeContext(t, map[string]string{"bin/app": "#!/bin/sh\n"}, time.Now())
	res, err := buildDockerfile(t, dir, "FROM "+base+"\nCOPY bin/app /usr/local/bin/\nCMD [\"app\"]\n", reg.repo(t, "acme/multi"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64/v8"}, res.Platforms); diff != "" {
		t.Errorf("platforms mismatch (-want +got):\n%s", diff)
	}
	ref := reg.repo(t, "acme/multi").Digest(res.Digest.String())
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != "application/vnd.oci.image.index.v1+json" || im.Annotations[AnnotationRevision] != revision || len(im.Manifests) != 2 {
		t.Fatalf("index: media type %s, annotations %v, %d manifests", im.MediaType, im.Annotations, len(im.Manifests))
	}
	var newLayers []v1.Hash
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) != 2 {
			t.Fatalf("%s: %d layers, want base + 1", d.Platform, len(ls))
		}
		h, _ := ls[1].Digest()
		newLayers = append(newLayers, h)
		want := []string{
			"usr/ 5 0755 0:0 2025-03-14T15:09:26Z",
			"usr/local/ 5 0755 0:0 2025-03-14T15:09:26Z",
			"usr/local/bin/ 5 0755 0:0 2025-03-14T15:09:26Z",
			"usr/local/bin/app 0 0755 0:0 2025-03-14T15:09:26Z 10",
		}
		if diff := cmp.Diff(want, lastLayer(t, img)); diff != "" {
			t.Errorf("%s: layer mismatch (-want +got):\n%s", d.Platform, diff)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if got := cf.Platform().String(); got != d.Platform.String() {
			t.Errorf("config platform %s, index says %s", got, d.Platform)
		}
	}
	if newLayers[0] != newLayers[1] {
		t.Errorf("platforms got different layers: %v", newLayers)
	}
}

func TestBuildRebuildPushesNothing(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBaseIndex(t, "base/multi")
	dir := writeContext(t, reproFiles, time.Now())
	dockerfile := "FROM " + base + "\nCOPY app /app\n"
	first, err := buildDockerfile(t, dir, dockerfile, reg.repo(t, "acme/again"))
	if err != nil {
		t.Fatal(err)
	}
	writes := reg.writes.Load()
	second, err := buildDockerfile(t, dir, dockerfile, reg.repo(t, "acme/again"))
	if err != nil {
		t.Fatal(err)
	}
	want := *first
	// The rebuild streams nothing, so it has no contents to report.
	want.Pushed, want.Contents = false, nil
	if diff := cmp.Diff(&want, second); diff != "" {
		t.Errorf("rebuild result mismatch (-want +got):\n%s", diff)
	}
	if n := reg.writes.Load() - writes; n != 0 {
		t.Errorf("rebuild made %d write requests, want 0", n)
	}
}
