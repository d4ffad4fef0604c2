package promote_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/registry"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pushPlatforms pushes to a real registry server an image (an index when
// there are several) of the given platforms and returns its repository
// and digest.
func pushPlatforms(t *testing.T, platforms ...string) (string, string) {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/acme/web"
	var adds []mutate.IndexAddendum
	var single v1.Image
	for _, s := range platforms {
		p, err := v1.ParsePlatform(s)
		if err != nil {
			t.Fatal(err)
		}
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		single = img
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
	}
	ref, err := name.ParseReference(repo+":pushed", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var d v1.Hash
	if len(platforms) == 1 {
		err = remote.Write(ref, single)
		d, _ = single.Digest()
	} else {
		idx := mutate.AppendManifests(empty.Index, adds...)
		err = remote.WriteIndex(ref, idx)
		d, _ = idx.Digest()
	}
	if err != nil {
		t.Fatal(err)
	}
	return repo, d.String()
}

// TestPlatformGate: an environment whose nodes run arm64 refuses, before
// any pull request and for good, an image without arm64, naming it; an
// image with arm64/v8 passes and its pull request lists the platforms.
func TestPlatformGate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		image   []string
		env     []string
		refusal string // "" when the promotion opens a pull request
	}{
		{"amd64 image, arm64 environment", []string{"linux/amd64"}, []string{"linux/arm64"},
			"image lacks a platform the environment runs: web/dev runs linux/arm64, but image sha256:"},
		{"one of two missing", []string{"linux/amd64"}, []string{"linux/amd64", "linux/arm64"}, "has no linux/arm64 (it has linux/amd64)"},
		{"arm64/v8 satisfies arm64", []string{"linux/amd64", "linux/arm64/v8"}, []string{"linux/arm64"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, "manual")
			f.cfg.Apps[0].Environments[0].Platforms = tc.env
			repo, dgst := pushPlatforms(t, tc.image...)
			f.p.Inspect = func(ctx context.Context, ref string) (*registry.Provenance, error) {
				return registry.Inspect(ctx, strings.Replace(ref, image, repo, 1), remote.WithContext(ctx))
			}
			in := promotion(1, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
			in.Digest = dgst
			out, err := f.p.Promote(ctx, in)
			_, findErr := f.forge.FindOpen(ctx, promote.Branch("web", "dev"))
			if tc.refusal == "" {
				if err != nil || out.Action != promote.Opened {
					t.Fatalf("promotion: %v, %+v; want a pull request", err, out)
				}
				if !strings.Contains(out.PR.Body, "| linux/arm64 | yes | yes |\n| linux/amd64 | yes | no |\n") {
					t.Errorf("body does not list the platforms:\n%s", out.PR.Body)
				}
				return
			}
			if err == nil || !retry.IsPermanent(err) || !errors.Is(err, promote.ErrMissingPlatform) || !strings.Contains(err.Error(), tc.refusal) {
				t.Fatalf("promotion error %v, want a permanent ErrMissingPlatform containing %q", err, tc.refusal)
			}
			if !errors.Is(findErr, forge.ErrNotFound) {
				t.Errorf("a pull request was opened for a refused image: %v", findErr)
			}
			r, err := git.PlainOpen(f.repo.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Reference(plumbing.NewBranchReferenceName(promote.Branch("web", "dev")), true); err == nil {
				t.Errorf("a promotion branch was pushed for a refused image")
			}
		})
	}
}

// TestProvenanceGate: an environment with require: {provenance: true}
// refuses, before any pull request and for good, an image without valid
// provenance from this deployment's builder; an image with it opens a pull
// request that shows the provenance facts.
func TestProvenanceGate(t *testing.T) {
	const ours = "https://conveyor.example/prod"
	for _, tc := range []struct {
		name    string
		builder string // "" attaches nothing
		commit  string // the commit the provenance records; the promotion's when ""
		refusal string // "" when the promotion opens a pull request
	}{
		{"no provenance", "", "", "no valid provenance for sha256:"},
		{"another builder", "https://evil.example/builder", "", `built by "https://evil.example/builder", not "` + ours + `"`},
		{"another commit", ours, strings.Repeat("9", 40), "it records commit 999999999999"},
		{"ours", ours, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, "manual")
			f.cfg.Apps[0].Environments[0].Require.Provenance = true
			repoName, dgst := pushPlatforms(t, "linux/amd64")
			in := promotion(1, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
			in.Digest = dgst
			if tc.builder != "" {
				attachProvenance(t, repoName, dgst, tc.builder, cmpOr(tc.commit, in.Revision))
			}
			f.p.Provenance = func(ctx context.Context, ref string) (*attest.Verified, error) {
				d, err := name.NewDigest(strings.Replace(ref, image, repoName, 1))
				if err != nil {
					return nil, err
				}
				return (&attest.Verifier{BuilderID: ours}).Verify(ctx, d)
			}
			out, err := f.p.Promote(ctx, in)
			if tc.refusal == "" {
				if err != nil || out.Action != promote.Opened {
					t.Fatalf("promotion: %v, %+v; want a pull request", err, out)
				}
				for _, want := range []string{"### Provenance", "- Builder: `" + ours + "` (SLSA provenance v1, unsigned)", "- Recipe: `Dockerfile` (`sha256:"} {
					if !strings.Contains(out.PR.Body, want) {
						t.Errorf("body lacks %q:\n%s", want, out.PR.Body)
					}
				}
				return
			}
			if err == nil || !retry.IsPermanent(err) || !errors.Is(err, promote.ErrNoProvenance) || !strings.Contains(err.Error(), tc.refusal) {
				t.Fatalf("promotion error %v, want a permanent ErrNoProvenance containing %q", err, tc.refusal)
			}
			if _, err := f.forge.FindOpen(ctx, promote.Branch("web", "dev")); !errors.Is(err, forge.ErrNotFound) {
				t.Errorf("a pull request was opened for a refused image: %v", err)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// attachProvenance attaches to repo@dgst a provenance by builder of commit.
func attachProvenance(t *testing.T, repoName, dgst, builder, commit string) {
	t.Helper()
	repo, err := name.NewRepository(repoName)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(repo.Digest(dgst))
	if err != nil {
		t.Fatal(err)
	}
	st, err := attest.ProvenanceStatement(attest.Build{Image: repoName, Digest: dgst, BuilderID: builder, Repository: "https://github.com/acme/web",
		Commit: commit, RecipeFile: "Dockerfile", Recipe: []byte("FROM scratch\n"), Base: "scratch",
		Started: time.Date(2026, 11, 20, 9, 59, 0, 0, time.UTC), Finished: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&attest.Attacher{BuilderID: builder}).Attach(context.Background(), repo, *d, st); err != nil {
		t.Fatal(err)
	}
}

// verifiedProvenance is what Verify returns for a signed provenance of in.
func verifiedProvenance(t *testing.T, in event.Promotion) *attest.Verified {
	t.Helper()
	st, err := attest.ProvenanceStatement(attest.Build{Image: image, Digest: in.Digest, BuilderID: "https://conveyor.example/prod",
		Repository: in.Source, Commit: in.Revision, RecipeFile: "Dockerfile", Recipe: []byte("FROM scratch\nCOPY bin/${TARGETARCH}/server /srv/server\n"),
		Base: "registry.example.com/base@sha256:" + strings.Repeat("b", 64), Platforms: []string{"linux/amd64", "linux/arm64"}, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
		Started: time.Date(2026, 11, 28, 23, 41, 0, 0, time.UTC), Finished: time.Date(2026, 11, 28, 23, 41, 4, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.ParseProvenance()
	if err != nil {
		t.Fatal(err)
	}
	return &attest.Verified{Statement: st, Provenance: p, Signed: true, Referrer: "sha256:" + strings.Repeat("e", 64)}
}
