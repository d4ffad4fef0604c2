// Command image builds Conveyor's own container image with Conveyor's
// daemonless builder (shared/imagebuild, what `conveyor build` runs): one
// Dockerfile, several platforms, one OCI index, pushed to a registry or
// written to an OCI image layout. `make image` runs it; it exists because
// `conveyor build` builds a single platform today. Only the image reference
// (repo@sha256:…) goes to stdout; the report goes to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/imagebuild"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

type options struct {
	dockerfile, context, push, oci, revision, source, created, platforms string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dockerfile, "dockerfile", "infra/container/Dockerfile", "the Dockerfile")
	fs.StringVar(&o.context, "context", "bin/image", "the build context: the binaries and files the Dockerfile copies")
	fs.StringVar(&o.platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated platforms of the index")
	fs.StringVar(&o.push, "push", "", "repository to push to (tagged sha-<revision>), e.g. ghcr.io/acme/conveyor")
	fs.StringVar(&o.oci, "oci", "", "OCI image layout directory to write the index to, when not pushing")
	fs.StringVar(&o.revision, "revision", "", "source revision, a commit SHA (required)")
	fs.StringVar(&o.source, "source", "", "org.opencontainers.image.source")
	fs.StringVar(&o.created, "created", "", "image creation time, RFC 3339 (required: the commit's time keeps the digest reproducible)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (o.push == "") == (o.oci == "") {
		return errors.New("give exactly one of -push REPO or -oci DIR")
	}
	if o.revision == "" || o.created == "" {
		return errors.New("-revision and -created are required")
	}
	ref, err := build(ctx, o, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, ref)
	return nil
}

// build builds the index and returns its reference: repo@digest, or the
// layout directory @digest.
func build(ctx context.Context, o options, stderr io.Writer) (string, error) {
	when, err := time.Parse(time.RFC3339, o.created)
	if err != nil {
		return "", fmt.Errorf("-created %q is not RFC 3339", o.created)
	}
	var platforms []v1.Platform
	for _, s := range strings.Split(o.platforms, ",") {
		p, err := v1.ParsePlatform(strings.TrimSpace(s))
		if err != nil {
			return "", fmt.Errorf("platform %q: %w", s, err)
		}
		platforms = append(platforms, *p)
	}
	f, err := os.Open(o.dockerfile)
	if err != nil {
		return "", fmt.Errorf("opening the Dockerfile: %w", err)
	}
	recipe, err := imagebuild.ParseDockerfile(filepath.Base(o.dockerfile), f, nil)
	f.Close()
	if err != nil {
		return "", err
	}
	target := o.push
	if target == "" {
		// The digest is a property of the bytes: build into a throwaway
		// registry on loopback, then copy the index into the layout.
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		defer srv.Close()
		target = strings.TrimPrefix(srv.URL, "http://") + "/conveyor"
	}
	repo, err := name.NewRepository(target)
	if err != nil {
		return "", fmt.Errorf("repository %q: %w", target, err)
	}
	dir, err := filepath.Abs(o.context)
	if err != nil {
		return "", err
	}
	res, err := imagebuild.Build(ctx, imagebuild.Options{ContextDir: dir, Recipe: recipe, Repository: repo,
		SourceURL: o.source, Revision: o.revision, Created: when, Platforms: platforms,
		// The context is built files, not the revision's tree: always read it.
		UncommittedContext: true})
	if err != nil {
		return "", err
	}
	if o.push != "" {
		fmt.Fprint(stderr, imagebuild.Describe(res))
		return repo.Digest(res.Digest.String()).String(), nil
	}
	if err := writeLayout(ctx, o.oci, repo.Digest(res.Digest.String()), res.Tag); err != nil {
		return "", err
	}
	fmt.Fprintf(stderr, "wrote %s (%s)\n", o.oci, strings.Join(res.Platforms, ", "))
	return o.oci + "@" + res.Digest.String(), nil
}

// writeLayout copies the index at ref into a fresh OCI image layout in dir,
// named by tag's tag.
func writeLayout(ctx context.Context, dir string, ref name.Digest, tag string) error {
	idx, err := remote.Index(ref, remote.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("reading the index back: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing %s: %w", dir, err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing the layout: %w", err)
	}
	t := tag[strings.LastIndexByte(tag, ':')+1:]
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": t})); err != nil {
		return fmt.Errorf("writing the index to %s: %w", dir, err)
	}
	return nil
}
