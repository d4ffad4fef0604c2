package imagebuild

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestBeforePushPrecedesEveryManifestWrite checks that the hook runs, with
// the image's digest, before each manifest PUT a listener could be told
// about: the first push, and the tag restored over a moved tag.
func TestBeforePushPrecedesEveryManifestWrite(t *testing.T) {
	var mu sync.Mutex
	var events []string
	note := func(s string) {
		mu.Lock()
		events = append(events, s)
		mu.Unlock()
	}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha-") {
			note("put")
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/acme/hook")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeContext(t, reproFiles, time.Now())
	build := func() *Result {
		t.Helper()
		recipe, err := ParseDockerfile("Dockerfile", strings.NewReader("FROM scratch\nCOPY app /app\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Build(context.Background(), Options{ContextDir: dir, Recipe: recipe, Repository: repo, Revision: revision,
			Created: commitTime, Keychain: authn.NewMultiKeychain(),
			BeforePush: func(_ context.Context, d v1.Hash) error { note("before " + d.String()); return nil }})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	first := build()
	// Another image takes the tag; the rebuild restores it.
	img, _ := random.Image(64, 1)
	if err := remote.Write(repo.Tag("sha-"+revision[:12]), img); err != nil {
		t.Fatal(err)
	}
	second := build()
	// Nothing to write: no hook either.
	third := build()
	if second.Digest != first.Digest || third.Digest != first.Digest {
		t.Fatalf("digests %s, %s, %s differ", first.Digest, second.Digest, third.Digest)
	}
	before := "before " + first.Digest.String()
	want := []string{before, "put", "put" /* the random image */, before, "put"}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("hook and manifest writes (-want +got):\n%s", diff)
	}
}
