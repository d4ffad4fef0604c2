package retention_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/retention"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestProtectAndSweep: an environment's current release and the previous
// one get release tags; a sweep then removes every other sha-* image (and
// its attachment tag) and keeps every protected digest.
func TestProtectAndSweep(t *testing.T) {
	ctx := context.Background()
	var writes atomic.Int64
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writes.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://")+"/acme/web", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var digests []string
	for i := range 5 {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(repo.Tag(fmt.Sprintf("sha-%012d", i)), img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests = append(digests, d.String())
	}
	// An attachment of the first image (the referrers tag).
	att, _ := random.Image(16, 1)
	if err := remote.Write(repo.Tag("sha256-"+strings.TrimPrefix(digests[0], "sha256:")), att); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rels := []state.Release{
		{Digest: digests[0], State: state.Merged, MergedAt: t0},
		{Digest: digests[1], State: state.Merged, MergedAt: t0.Add(time.Hour)},
		{Digest: digests[2], State: state.Merged, MergedAt: t0.Add(2 * time.Hour)},
		{Digest: digests[1], State: state.Merged, MergedAt: t0.Add(3 * time.Hour)}, // a rollback to digests[1]
		{Digest: digests[3], State: state.Proposed},
	}
	targets := retention.Targets(rels, 1)
	if diff := cmp.Diff([]string{digests[1], digests[2]}, targets); diff != "" {
		t.Fatalf("targets (-want +got):\n%s", diff)
	}
	if err := retention.Protect(ctx, repo, "prod", targets); err != nil {
		t.Fatal(err)
	}
	before := writes.Load()
	if err := retention.Protect(ctx, repo, "prod", targets); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load() - before; n != 0 {
		t.Errorf("protecting again wrote %d times", n)
	}
	for i, want := range []bool{false, true, true, false, false} {
		got, err := retention.Protected(ctx, repo, "prod", digests[i], 1)
		if err != nil || got != want {
			t.Errorf("Protected(image %d) = %v, %v; want %v", i, got, err, want)
		}
	}

	dry, err := retention.Sweep(ctx, repo, true)
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := retention.Sweep(ctx, repo, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{digests[0], digests[3], digests[4]}
	slices.Sort(want)
	if diff := cmp.Diff(want, deleted); diff != "" || !cmp.Equal(dry, deleted) {
		t.Errorf("swept (-want +got):\n%s\ndry run: %v", diff, dry)
	}
	for i, d := range digests {
		_, err := remote.Head(repo.Digest(d))
		if kept := err == nil; kept != (i == 1 || i == 2) {
			t.Errorf("image %d kept = %v (%v)", i, kept, err)
		}
	}
	if _, err := remote.Head(repo.Tag("sha256-" + strings.TrimPrefix(digests[0], "sha256:"))); err == nil {
		t.Error("the swept image's attachment is still there")
	}
}
