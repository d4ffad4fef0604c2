package build_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestBuildAttachesProvenanceAndSBOM builds, from conveyor.yaml's
// platforms: list, a two-platform image from scratch whose Dockerfile
// copies each architecture's own binary (one of them a real Go
// executable), and reads back what the build attached: a provenance
// naming the commit, recipe, platforms and trace, and an SBOM listing each
// platform's binary and the Go module of the real one.
func TestBuildAttachesProvenanceAndSBOM(t *testing.T) {
	ctx := context.Background()
	goBinary := buildGoBinary(t)
	appDir := filepath.Join(t.TempDir(), "app")
	repo, err := demo.InitRepo(appDir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.Commit(map[string]string{
		"Dockerfile":       "FROM scratch\nARG TARGETARCH\nCOPY --chmod=0755 bin/${TARGETARCH}/server /srv/server\n",
		"bin/amd64/server": string(goBinary),
		"bin/arm64/server": "not a Go binary\n",
	}, "binaries", time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	sha := c.Hash.String()
	reg, err := ociregistry.Open(t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(reg)
	t.Cleanup(rs.Close)
	image := strings.TrimPrefix(rs.URL, "http://") + "/acme/web"
	cfg, err := config.Parse("conveyor.yaml", []byte(fmt.Sprintf(`version: 1
apps:
  - name: web
    source: {repo: %s, branch: main}
    image: %s
    build: {platforms: [linux/amd64, linux/arm64]}
    environments:
      - {name: dev, path: envs/dev, release: auto}
`, appDir, image)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := sqlitestate.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	b := &build.Builder{Config: func(context.Context) (*config.Config, error) { return cfg, nil }, Idem: st,
		TempDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), BuilderID: "https://conveyor.example/prod"}
	f := &sourceFixture{b: b, image: image}
	if err := f.push(t, event.Push{Repository: "acme/web", CloneURL: "file://" + appDir, Ref: "refs/heads/main", Branch: "main", After: sha}); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.ParseReference(image + ":sha-" + sha[:12])
	desc, err := remote.Head(tag)
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := name.NewDigest(image + "@" + desc.Digest.String())

	v, err := (&attest.Verifier{BuilderID: "https://conveyor.example/prod"}).Verify(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	ext := v.Provenance.BuildDefinition.ExternalParameters
	if ext.Source.Commit != sha || ext.Source.Repository != appDir || ext.Recipe.File != "Dockerfile" ||
		strings.Join(ext.Platforms, ",") != "linux/amd64,linux/arm64" || v.Provenance.RunDetails.Metadata.InvocationID != "trace-1" {
		out, _ := json.MarshalIndent(v.Provenance, "", "  ")
		t.Errorf("provenance:\n%s", out)
	}

	bom := readSBOM(t, subject)
	var files, goModules int
	for _, c := range bom.Components {
		switch {
		case c.Type == "file" && c.Name == "/srv/server":
			files++
		case c.Type == "library" && c.PURL == "pkg:golang/example.com/server":
			goModules++
		}
	}
	if files != 2 || goModules != 1 {
		out, _ := json.MarshalIndent(bom, "", "  ")
		t.Errorf("SBOM has %d /srv/server files (want one per platform) and %d example.com/server modules (want 1):\n%.3000s", files, goModules, out)
	}
}

// readSBOM reads the CycloneDX statement attached to subject.
func readSBOM(t *testing.T, subject name.Digest) attest.BOM {
	t.Helper()
	idx, err := remote.Referrers(subject)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	for _, d := range im.Manifests {
		if d.Annotations[attest.AnnotationPredicateType] != attest.PredicateCycloneDX {
			continue
		}
		img, err := remote.Image(subject.Context().Digest(d.Digest.String()))
		if err != nil {
			t.Fatal(err)
		}
		ls, _ := img.Layers()
		rc, err := ls[0].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var st attest.Statement
		if err := json.NewDecoder(rc).Decode(&st); err != nil {
			t.Fatal(err)
		}
		var bom attest.BOM
		if err := json.Unmarshal(st.Predicate, &bom); err != nil {
			t.Fatal(err)
		}
		return bom
	}
	t.Fatalf("no SBOM among %d referrers of %s", len(im.Manifests), subject)
	return attest.BOM{}
}

// buildGoBinary compiles a small Go program, module example.com/server.
func buildGoBinary(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"go.mod": "module example.com/server\n\ngo 1.24\n", "main.go": "package main\n\nfunc main() {}\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", "server", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building a Go binary: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
