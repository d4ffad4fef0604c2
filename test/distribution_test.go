package test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/imagebuild"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"strings"
)

// TestBuildAgainstDistribution pushes a build to the real CNCF registry,
// whose notifications go to Conveyor's ingress over HTTP: the manifest pulls
// back intact, and the registry's own notification, normalised into the
// images queue, names the same digest and tag.
func TestBuildAgainstDistribution(t *testing.T) {
	ctx := context.Background()
	const token = "distribution-test-token"
	rt, err := local.Open(ctx, local.Options{DataDir: t.TempDir(), Addr: "127.0.0.1:0", RegistryToken: token,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	addr, _ := rt.Listen()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rt.Run(runCtx) }()
	defer func() { stop(); <-done }()

	host := startDistribution(t, "http://"+addr.String()+webhook.PathDistribution, token)

	dir := t.TempDir()
	app, err := demo.InitRepo(filepath.Join(dir, "web"))
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	c, err := app.Commit(demo.AppFiles(), "web", when)
	if err != nil {
		t.Fatal(err)
	}
	ctxDir := filepath.Join(dir, "ctx")
	if err := copyTree(app.Dir, ctxDir); err != nil {
		t.Fatal(err)
	}
	recipe, err := imagebuild.ParseDockerfile("Dockerfile", strings.NewReader(demo.AppFiles()["Dockerfile"]), nil)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(host + "/demo/web")
	res, err := imagebuild.Build(ctx, imagebuild.Options{ContextDir: ctxDir, Recipe: recipe, Repository: repo,
		SourceURL: "https://example.com/demo/web", Revision: c.Hash.String(), Created: when})
	if err != nil {
		t.Fatal(err)
	}

	img, err := remote.Image(repo.Digest(res.Digest.String()))
	if err != nil {
		t.Fatalf("pulling back %s: %v", res.Ref, err)
	}
	if d, _ := img.Digest(); d != res.Digest {
		t.Fatalf("pulled digest %s, pushed %s", d, res.Digest)
	}
	layers, _ := img.Layers()
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n == 0 {
			t.Fatalf("layer unreadable: %d bytes, %v", n, err)
		}
	}

	images, _ := rt.Queues.Queue(queue.Images)
	var found *event.Image
	waitFor(t, "the registry's notification in the images queue", 20*time.Second, func() bool {
		msgs, err := images.Receive(ctx, 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			env, err := event.Decode(m.Body)
			if err != nil {
				t.Fatal(err)
			}
			var img event.Image
			if err := env.DecodePayload(&img); err != nil {
				t.Fatal(err)
			}
			if img.Digest == res.Digest.String() && img.Tag != "" {
				found = &img
			}
		}
		return found != nil
	})
	if found.Registry != host || found.Repository != "demo/web" || found.Tag != "sha-"+c.Hash.String()[:12] {
		t.Fatalf("notification normalised to %+v, want %s/demo/web tag sha-%s", found, host, c.Hash.String()[:12])
	}
}
