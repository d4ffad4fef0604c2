package promote

import (
	"fmt"
	"regexp"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

var revisionRE = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// promotionRef returns the reference a promotion writes. Its tag is set
// when the environment keeps tags, and when a Helm tag path without a
// digest path must carry the pin as "tag@sha256:…" (the layout of most
// charts, which render "repository:tag"). The digest alone decides what
// runs: a runtime given repo:tag@digest pulls the digest, so the tag is a
// label for people. Without a pushed tag the builder's own tag,
// sha-<first 12 of the revision>, is used: Conveyor's builder always pushes
// it, so the label names a tag that exists.
func promotionRef(app *config.App, env *config.Environment, in event.Promotion) (manifest.Ref, error) {
	ref, err := manifest.ParseRef(app.Image + "@" + in.Digest)
	if err != nil {
		return manifest.Ref{}, retry.Permanent(err)
	}
	tagged := env.Strategy == config.StrategyHelm && env.Helm.Tag != "" && env.Helm.Digest == ""
	if !tagged && !env.KeepTag {
		return ref, nil
	}
	ref.Tag = in.Tag
	if ref.Tag == "" && tagged && revisionRE.MatchString(in.Revision) {
		ref.Tag = "sha-" + in.Revision[:12]
	}
	if ref.Tag == "" && tagged {
		return manifest.Ref{}, retry.Permanent(fmt.Errorf("promoting %s to %s/%s: helm.tag without helm.digest writes TAG@DIGEST, and the image has neither a tag nor a revision to name one (promote IMAGE:TAG@DIGEST)",
			short(in.Digest), app.Name, env.Name))
	}
	if err := ref.Validate(); err != nil {
		return manifest.Ref{}, retry.Permanent(fmt.Errorf("promoting %s to %s/%s: %w", short(in.Digest), app.Name, env.Name, err))
	}
	return ref, nil
}
