package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/registry"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// ErrMissingPlatform is matched (errors.Is) by the permanent refusal of an
// image that lacks a platform its environment's nodes run: promoted, it
// would fail to start there ("exec format error") instead of in review.
var ErrMissingPlatform = errors.New("image lacks a platform the environment runs")

// checkImage refuses, before any pull request, an image the environment
// cannot run or does not trust. It reads the registry only for the checks
// the environment asks for, and keeps what it read for the body.
func (p *Promoter) checkImage(ctx context.Context, pm *promotion) error {
	if err := p.checkProvenance(ctx, pm); err != nil {
		return err
	}
	if len(pm.env.Platforms) == 0 {
		return nil
	}
	if p.Inspect == nil {
		return retry.Permanent(fmt.Errorf("promoting %s to %s/%s: the environment lists platforms but this promoter cannot read the registry", short(pm.in.Digest), pm.in.App, pm.in.Environment))
	}
	f, err := p.Inspect(ctx, pm.app.Image+"@"+pm.in.Digest)
	if err != nil {
		return fmt.Errorf("reading %s to check it for %s/%s: %w", short(pm.in.Digest), pm.in.App, pm.in.Environment, err)
	}
	pm.facts = f
	if missing := missingPlatforms(pm.env.Platforms, f.Platforms); len(missing) > 0 {
		err := fmt.Errorf("%w: %s/%s runs %s, but image %s has no %s (it has %s)", ErrMissingPlatform, pm.in.App, pm.in.Environment,
			strings.Join(pm.env.Platforms, ", "), short(pm.in.Digest), strings.Join(missing, ", "), listOrNone(f.Platforms))
		pm.log.WarnContext(ctx, "promotion refused", "reason", err.Error())
		return retry.Permanent(err)
	}
	return nil
}

// missingPlatforms lists the wanted platforms no image platform satisfies:
// linux/arm64 is satisfied by linux/arm64 and by linux/arm64/v8.
func missingPlatforms(want, have []string) []string {
	var missing []string
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return h == w || strings.HasPrefix(h, w+"/") }) {
			missing = append(missing, w)
		}
	}
	return missing
}

func listOrNone(ps []string) string {
	if len(ps) == 0 {
		return "no platform"
	}
	return strings.Join(ps, ", ")
}

// imageFacts returns what checkImage read, or reads the facts for the body.
func (p *Promoter) imageFacts(ctx context.Context, pm *promotion) *registry.Provenance {
	if pm.facts != nil {
		return pm.facts
	}
	return p.facts(ctx, pm)
}

// writePlatforms lists the image's platforms against the environment's,
// so a reviewer sees what each node type will pull.
func writePlatforms(b *strings.Builder, env *config.Environment, have []string) {
	fmt.Fprintf(b, "\n| Platform | Image | `%s` runs |\n|---|---|---|\n", env.Name)
	rows := slices.Clone(env.Platforms)
	for _, h := range have {
		if !env.HasPlatform(h) {
			rows = append(rows, h)
		}
	}
	mark := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "no"
	}
	for _, r := range rows {
		inImage := len(missingPlatforms([]string{r}, have)) == 0
		fmt.Fprintf(b, "| %s | %s | %s |\n", r, mark(inImage), mark(slices.Contains(env.Platforms, r)))
	}
}

// ErrNoProvenance is matched (errors.Is) by the permanent refusal of an
// image without valid provenance from this deployment's builder, for an
// environment with require: {provenance: true}.
var ErrNoProvenance = attest.ErrNoProvenance

// checkProvenance verifies the image's provenance when the environment
// requires it, keeping it for the body. A registry failure is retried; an
// image without valid provenance is refused for good.
func (p *Promoter) checkProvenance(ctx context.Context, pm *promotion) error {
	if !pm.env.Require.Provenance {
		return nil
	}
	if p.Provenance == nil {
		return retry.Permanent(fmt.Errorf("promoting %s to %s/%s: the environment requires provenance but this promoter cannot verify it", short(pm.in.Digest), pm.in.App, pm.in.Environment))
	}
	v, err := p.Provenance(ctx, pm.app.Image+"@"+pm.in.Digest)
	switch {
	case errors.Is(err, attest.ErrNoProvenance):
		err = fmt.Errorf("%s/%s requires provenance: %w", pm.in.App, pm.in.Environment, err)
		pm.log.WarnContext(ctx, "promotion refused", "reason", err.Error())
		return retry.Permanent(err)
	case err != nil:
		return fmt.Errorf("verifying the provenance of %s: %w", short(pm.in.Digest), err)
	}
	if c := v.Provenance.BuildDefinition.ExternalParameters.Source.Commit; pm.in.Revision != "" && c != pm.in.Revision {
		err := fmt.Errorf("%w for %s: it records commit %.12s, the promotion %.12s", ErrNoProvenance, short(pm.in.Digest), c, pm.in.Revision)
		return retry.Permanent(err)
	}
	pm.provenance = v
	return nil
}

// writeProvenance shows the verified provenance facts.
func writeProvenance(b *strings.Builder, v *attest.Verified) {
	pr := v.Provenance
	ext := pr.BuildDefinition.ExternalParameters
	b.WriteString("\n### Provenance\n\n")
	signed := "unsigned"
	if v.Signed {
		signed = "signed, verified with the configured key"
	}
	fmt.Fprintf(b, "- Builder: `%s` (SLSA provenance v1, %s)\n", pr.RunDetails.Builder.ID, signed)
	fmt.Fprintf(b, "- Source: %s\n", commitLink(ext.Source.Repository, ext.Source.Commit))
	fmt.Fprintf(b, "- Recipe: `%s` (`%s`)\n", ext.Recipe.File, ext.Recipe.Digest)
	for _, d := range pr.BuildDefinition.ResolvedDependencies {
		if d.Name == "base" {
			fmt.Fprintf(b, "- Base: `%s@sha256:%s`\n", strings.TrimPrefix(d.URI, "oci://"), d.Digest["sha256"])
		}
	}
	md := pr.RunDetails.Metadata
	fmt.Fprintf(b, "- Built: %s – %s", md.StartedOn.UTC().Format(time.RFC3339), md.FinishedOn.UTC().Format(time.RFC3339))
	if md.InvocationID != "" {
		fmt.Fprintf(b, ", trace `%s`", md.InvocationID)
	}
	fmt.Fprintf(b, "\n- Attestation: `%s`\n", v.Referrer)
}
