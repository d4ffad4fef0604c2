package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/registry"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// ErrMissingPlatform is matched (errors.Is) by the permanent refusal of an
// image that lacks a platform its environment's nodes run: promoted, it
// would fail to start there ("exec format error") instead of in review.
var ErrMissingPlatform = errors.New("image lacks a platform the environment runs")

// checkImage refuses, before any pull request, an image the environment
// cannot run. It reads the image's facts only when the environment asks
// for a check, and keeps them for the body.
func (p *Promoter) checkImage(ctx context.Context, pm *promotion) error {
	if len(pm.env.Platforms) == 0 && !pm.env.Require.Provenance {
		return nil
	}
	if p.Inspect == nil {
		return retry.Permanent(fmt.Errorf("promoting %s to %s/%s: the environment checks images but this promoter cannot read the registry", short(pm.in.Digest), pm.in.App, pm.in.Environment))
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
