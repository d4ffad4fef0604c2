package build

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/imagebuild"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// attest returns the hook that attaches an image's provenance and SBOM as
// referrers before its manifest is written: when the registry announces
// the image, what a provenance gate reads is already there.
func (b *Builder) attest(a *config.App, recipe *imagebuild.Recipe, source, commit string, committed, started time.Time) func(context.Context, *imagebuild.Result) error {
	return func(ctx context.Context, res *imagebuild.Result) error {
		repo, err := name.NewRepository(a.Image)
		if err != nil {
			return err
		}
		recipeJSON, err := json.Marshal(recipe)
		if err != nil {
			return fmt.Errorf("encoding the recipe: %w", err)
		}
		file := a.Build.Dockerfile
		if a.Build.Base != "" {
			file = "conveyor.yaml build:"
		}
		prov, err := attest.ProvenanceStatement(attest.Build{Image: repo.String(), Digest: res.Digest.String(), BuilderID: b.BuilderID,
			Repository: source, Commit: commit, Context: a.Build.Context, RecipeFile: file, Recipe: recipeJSON, Base: res.Base,
			Platforms: res.Platforms, TraceID: logging.Trace(ctx), Started: started, Finished: time.Now()})
		if err != nil {
			return err
		}
		sbom, err := attest.SBOMStatement(repo.String(), res.Digest.String(), committed, res.Contents)
		if err != nil {
			return err
		}
		kc := b.Keychain
		if kc == nil {
			kc = authn.DefaultKeychain
		}
		at := &attest.Attacher{BuilderID: b.BuilderID, Signer: b.Signer,
			Options: append([]remote.Option{remote.WithAuthFromKeychain(kc)}, b.RemoteOptions...)}
		return at.Attach(ctx, repo, res.Descriptor, prov, sbom)
	}
}
