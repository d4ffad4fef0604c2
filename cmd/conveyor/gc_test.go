package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestGC: `conveyor gc` keeps the image a release tag protects and deletes
// the other sha-* image; --dry-run deletes nothing.
func TestGC(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repoName := strings.TrimPrefix(srv.URL, "http://") + "/acme/web"
	repo, _ := name.NewRepository(repoName)
	var digests []string
	for i := range 2 {
		img, _ := random.Image(64, 1)
		if err := remote.Write(repo.Tag(fmt.Sprintf("sha-%012d", i)), img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests = append(digests, d.String())
	}
	if err := remote.Tag(repo.Tag("release-prod"), mustGet(t, repo.Digest(digests[0]))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
		kept []bool
	}{
		{[]string{"--dry-run", repoName}, "would delete " + repoName + "@" + digests[1] + "\n" + repoName + ": 1 would delete\n", []bool{true, true}},
		{[]string{repoName}, "deleted " + repoName + "@" + digests[1] + "\n" + repoName + ": 1 deleted\n", []bool{true, false}},
	} {
		var out, errb strings.Builder
		if code := run(context.Background(), append([]string{"gc"}, tc.args...), &out, &errb); code != 0 {
			t.Fatalf("gc %v: exit %d: %s", tc.args, code, errb.String())
		}
		if out.String() != tc.want {
			t.Errorf("gc %v printed %q, want %q", tc.args, out.String(), tc.want)
		}
		for i, d := range digests {
			if _, err := remote.Head(repo.Digest(d)); (err == nil) != tc.kept[i] {
				t.Errorf("gc %v: image %d kept = %v, want %v", tc.args, i, err == nil, tc.kept[i])
			}
		}
	}
}

func mustGet(t *testing.T, ref name.Reference) *remote.Descriptor {
	t.Helper()
	d, err := remote.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestStatusProtection: status --protection says the released digest is
// protected and its rollback target, whose tag is missing, is not.
func TestStatusProtection(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repoName := strings.TrimPrefix(srv.URL, "http://") + "/acme/web"
	repo, _ := name.NewRepository(repoName)
	var digests []string
	for i := range 2 {
		img, _ := random.Image(64, 1)
		if err := remote.Write(repo.Tag(fmt.Sprintf("sha-%012d", i)), img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests = append(digests, d.String())
	}
	if err := remote.Tag(repo.Tag("release-prod"), mustGet(t, repo.Digest(digests[1]))); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Apps: []config.App{{Name: "web", Image: repoName, Environments: []config.Environment{{Name: "prod"}}}}}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rels := []state.Release{
		{App: "web", Env: "prod", Digest: digests[0], State: state.Merged, MergedAt: t0},
		{App: "web", Env: "prod", Digest: digests[1], State: state.Merged, MergedAt: t0.Add(time.Hour)},
	}
	var out strings.Builder
	if err := printProtection(context.Background(), &out, cfg, rels); err != nil {
		t.Fatal(err)
	}
	want := "web  prod  " + digests[1][:19] + " protected  " + digests[0][:19] + " UNPROTECTED"
	if !strings.Contains(out.String(), want) {
		t.Errorf("status --protection printed:\n%s\nwant a line %q", out.String(), want)
	}
}
