package attest_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/imagebuild"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
)

// BenchmarkBuildAttested builds the imagebuild benchmark's context (2,000
// small files and one 50 MB file) with and without attaching provenance
// and an SBOM, so the cost of attesting reads as the difference.
func BenchmarkBuildAttested(b *testing.B) {
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		p := filepath.Join(dir, "src", fmt.Sprintf("pkg%02d", i%50), fmt.Sprintf("file%04d.go", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat(fmt.Sprintf("// line of file %d\n", i), 20+i%100)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	big := make([]byte, 50<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	b.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://")+"/acme/bench", name.Insecure)
	if err != nil {
		b.Fatal(err)
	}
	recipe, err := imagebuild.ParseDockerfile("Dockerfile", strings.NewReader("FROM scratch\nCOPY src /src\nCOPY big.bin /data/\n"), nil)
	if err != nil {
		b.Fatal(err)
	}
	attach := func(ctx context.Context, res *imagebuild.Result) error {
		prov, err := attest.ProvenanceStatement(attest.Build{Image: repo.String(), Digest: res.Digest.String(), Repository: "https://github.com/acme/web",
			Commit: strings.Repeat("a", 40), RecipeFile: "Dockerfile", Recipe: []byte("recipe"), Base: res.Base, Started: time.Now(), Finished: time.Now()})
		if err != nil {
			return err
		}
		sbom, err := attest.SBOMStatement(repo.String(), res.Digest.String(), time.Now(), res.Contents)
		if err != nil {
			return err
		}
		return (&attest.Attacher{}).Attach(ctx, repo, res.Descriptor, prov, sbom)
	}
	round := 0
	for _, bc := range []struct {
		name   string
		attest func(context.Context, *imagebuild.Result) error
	}{{"plain", nil}, {"attested", attach}} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				round++ // another commit time each round: new layers, a real push
				res, err := imagebuild.Build(context.Background(), imagebuild.Options{ContextDir: dir, Recipe: recipe, Repository: repo,
					Revision: strings.Repeat("0123456789abcdef", 3)[:40], Created: time.Date(2026, 1, 1, 0, 0, round, 0, time.UTC),
					Keychain: authn.NewMultiKeychain(), Attest: bc.attest})
				if err != nil || !res.Pushed {
					b.Fatalf("build: %v", err)
				}
			}
		})
	}
}
