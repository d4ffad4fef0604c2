package attest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/imagebuild"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pushed is an image in a real registry server that counts its writes.
type pushed struct {
	repo   name.Repository
	desc   v1.Descriptor
	writes *atomic.Int64
}

func pushImage(t *testing.T, referrersAPI bool) pushed {
	t.Helper()
	var writes atomic.Int64
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(referrersAPI))
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
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if err := remote.Write(repo.Digest(d.String()), img); err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()
	raw, _ := img.RawManifest()
	return pushed{repo: repo, desc: v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))}, writes: &writes}
}

func build(p pushed) attest.Build {
	return attest.Build{Image: p.repo.String(), Digest: p.desc.Digest.String(), Repository: "https://github.com/acme/web",
		Commit: strings.Repeat("ab", 20), RecipeFile: "Dockerfile", Recipe: []byte("FROM scratch\nCOPY bin/server /srv/server\n"),
		Base: "registry.example.com/base@sha256:" + strings.Repeat("0", 64), Platforms: []string{"linux/amd64"}, TraceID: "trace-1",
		Started: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Finished: time.Date(2026, 12, 1, 10, 0, 3, 0, time.UTC)}
}

func statements(t *testing.T, p pushed) []*attest.Statement {
	t.Helper()
	prov, err := attest.ProvenanceStatement(build(p))
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := attest.SBOMStatement(p.repo.String(), p.desc.Digest.String(), time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		[]imagebuild.PlatformContents{{Platform: "linux/amd64", Files: []imagebuild.AddedFile{{Path: "/srv/server", SHA256: strings.Repeat("c", 64), Size: 3}}}})
	if err != nil {
		t.Fatal(err)
	}
	return []*attest.Statement{prov, sbom}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestAttachAndVerify attaches provenance and an SBOM as referrers (on a
// registry with the referrers API and on one that needs the referrers
// tag), reads the provenance back, and refuses what does not verify.
func TestAttachAndVerify(t *testing.T) {
	signing, other := newKey(t), newKey(t)
	for _, tc := range []struct {
		name         string
		referrersAPI bool
		sign         *ecdsa.PrivateKey
		verifyKey    *ecdsa.PublicKey
		builder      string // the builder the verifier expects
		refusal      string // "" when Verify must succeed
	}{
		{"unsigned, referrers API", true, nil, nil, "", ""},
		{"unsigned, referrers tag", false, nil, nil, "", ""},
		{"signed, verified with its public key", false, signing, &signing.PublicKey, "", ""},
		{"signed, another key", true, signing, &other.PublicKey, "", "signature does not verify"},
		{"unsigned, a signature required", true, nil, &signing.PublicKey, "", "unsigned, and a signature is required"},
		{"another builder", true, nil, nil, "https://builder.example/other", `built by "` + attest.DefaultBuilderID + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			p := pushImage(t, tc.referrersAPI)
			a := &attest.Attacher{}
			if tc.sign != nil {
				a.Signer = attest.NewSigner(tc.sign)
			}
			if err := a.Attach(ctx, p.repo, p.desc, statements(t, p)...); err != nil {
				t.Fatal(err)
			}
			before := p.writes.Load()
			if err := a.Attach(ctx, p.repo, p.desc, statements(t, p)...); err != nil {
				t.Fatal(err)
			}
			if n := p.writes.Load() - before; n != 0 {
				t.Errorf("attaching again wrote %d times, want 0", n)
			}
			idx, err := remote.Referrers(p.repo.Digest(p.desc.Digest.String()))
			if err != nil {
				t.Fatal(err)
			}
			im, _ := idx.IndexManifest()
			var types []string
			for _, d := range im.Manifests {
				types = append(types, d.Annotations[attest.AnnotationPredicateType])
			}
			if diff := cmp.Diff([]string{attest.PredicateCycloneDX, attest.PredicateSLSA}, slices.Sorted(slices.Values(types))); diff != "" {
				t.Errorf("referrers (-want +got):\n%s", diff)
			}

			v := &attest.Verifier{BuilderID: tc.builder, PublicKey: tc.verifyKey}
			got, err := v.Verify(ctx, p.repo.Digest(p.desc.Digest.String()))
			if tc.refusal != "" {
				if !errors.Is(err, attest.ErrNoProvenance) || !strings.Contains(err.Error(), tc.refusal) {
					t.Fatalf("Verify = %v, want ErrNoProvenance saying %q", err, tc.refusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ext := got.Provenance.BuildDefinition.ExternalParameters
			if got.Signed != (tc.verifyKey != nil) || ext.Source.Commit != strings.Repeat("ab", 20) || got.Provenance.RunDetails.Metadata.InvocationID != "trace-1" ||
				!strings.HasPrefix(ext.Recipe.Digest, "sha256:") || len(got.Provenance.BuildDefinition.ResolvedDependencies) != 2 {
				b, _ := json.MarshalIndent(got, "", "  ")
				t.Errorf("verified provenance:\n%s", b)
			}
		})
	}
}
