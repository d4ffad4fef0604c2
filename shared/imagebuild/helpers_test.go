package imagebuild

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// commitTime is the commit time every test build uses.
var commitTime = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

const revision = "0123456789abcdef0123456789abcdef01234567"

// testRegistry is a real registry server that counts write requests.
type testRegistry struct {
	*httptest.Server
	host   string
	writes atomic.Int64 // POST, PUT, PATCH
	blobs  atomic.Int64 // blob upload starts (POST …/blobs/uploads/)
}

func newRegistry(t testing.TB, opts ...registry.Option) *testRegistry {
	t.Helper()
	r := &testRegistry{}
	h := registry.New(append([]registry.Option{registry.Logger(log.New(io.Discard, "", 0))}, opts...)...)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			r.writes.Add(1)
			if req.Method == http.MethodPost && strings.Contains(req.URL.Path, "/blobs/uploads") {
				r.blobs.Add(1)
			}
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	r.host = strings.TrimPrefix(r.URL, "http://")
	return r
}

func (r *testRegistry) repo(t testing.TB, path string) name.Repository {
	t.Helper()
	repo, err := name.NewRepository(r.host+"/"+path, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// pushBase pushes a random one-layer image with a config like a real base's
// and returns its reference.
func (r *testRegistry) pushBase(t testing.TB, path string, platform v1.Platform) string {
	t.Helper()
	img := baseImageFor(t, platform)
	ref := r.repo(t, path).Tag("latest")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return ref.String()
}

func baseImageFor(t testing.TB, p v1.Platform) v1.Image {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config.Env = []string{"PATH=/usr/bin:/bin", "LANG=C"}
	cf.Config.Cmd = []string{"/bin/sh"}
	cf.Config.WorkingDir = "/home"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pushBaseIndex pushes a two-platform base index.
func (r *testRegistry) pushBaseIndex(t testing.TB, path string) string {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
		adds = append(adds, mutate.IndexAddendum{Add: baseImageFor(t, p), Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	ref := r.repo(t, path).Tag("latest")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	return ref.String()
}

// writeContext writes files into a new directory; a value starting with
// "->" makes a symlink. Every file gets mtime.
func writeContext(t testing.TB, files map[string]string, mtime time.Time) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func buildDockerfile(t testing.TB, dir, dockerfile string, repo name.Repository) (*Result, error) {
	t.Helper()
	recipe, err := ParseDockerfile("Dockerfile", strings.NewReader(dockerfile), nil)
	if err != nil {
		return nil, err
	}
	return Build(context.Background(), Options{
		ContextDir: dir,
		Recipe:     recipe,
		Repository: repo,
		SourceURL:  "https://github.com/acme/shop",
		Revision:   revision,
		Created:    commitTime,
		Keychain:   authn.NewMultiKeychain(), // anonymous
	})
}

// tarListing lists a layer's entries as "name type mode uid:gid mtime size|->link".
func tarListing(t testing.TB, l v1.Layer) []string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("%s %c %04o %d:%d %s", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime.UTC().Format(time.RFC3339))
		switch h.Typeflag {
		case tar.TypeReg:
			line += fmt.Sprintf(" %d", h.Size)
		case tar.TypeSymlink:
			line += " ->" + h.Linkname
		}
		if h.Uname != "" || h.Gname != "" || len(h.PAXRecords) > 0 || len(h.Xattrs) > 0 { //nolint:staticcheck // checking none leak
			line += " UNEXPECTED-METADATA"
		}
		out = append(out, line)
	}
}

// lastLayer reads back the image at ref (the platform's, for an index)
// and returns its last layer's listing.
func lastLayer(t testing.TB, img v1.Image) []string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return tarListing(t, ls[len(ls)-1])
}
