package promote

import (
	"errors"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

func permanentIfInput(err error) error {
	for _, e := range []error{manifest.ErrTargetNotFound, manifest.ErrAmbiguous, manifest.ErrNoDigest, manifest.ErrInvalidRef,
		manifest.ErrInvalidTarget, manifest.ErrUnsupported, manifest.ErrTooLarge, manifest.ErrTooManyAliases} {
		if errors.Is(err, e) {
			return retry.Permanent(err)
		}
	}
	return err
}

// target builds the manifest target of an app's environment.
func target(a *config.App, env *config.Environment) manifest.Target {
	t := manifest.Target{Strategy: string(env.Strategy), Repository: a.Image, App: a.Name, Container: env.Container, KeepTag: env.KeepTag,
		HelmImage: env.Helm.Image, HelmRepository: env.Helm.Repository, HelmDigest: env.Helm.Digest, HelmTag: env.Helm.Tag}
	if t.Container == "" {
		t.Container = a.Name
	}
	return t
}
