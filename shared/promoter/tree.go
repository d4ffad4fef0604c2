package promoter

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// editEnv applies ref to an environment's path in a snapshot of the GitOps
// repository through manifest.EditTree, the one editor, and returns the new
// contents of changed files and the changes. Errors caused by the
// repository's content or the configuration are permanent.
func editEnv(snap fs.FS, app *config.App, env *config.Environment, ref manifest.Ref) (map[string][]byte, []manifest.Change, error) {
	writes, changes, err := manifest.EditTree(snap, env.Path, target(app, env), ref)
	if err != nil {
		return nil, nil, permanentIfInput(fmt.Errorf("environment %s: %w", env.Name, err))
	}
	return writes, changes, nil
}

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

// overlayDir returns the Kustomize directory an edit touched, if the edit
// changed a kustomization file.
func overlayDir(writes map[string][]byte) (string, bool) {
	for f := range writes {
		if manifest.IsKustomization(path.Base(f)) {
			return path.Dir(f), true
		}
	}
	return "", false
}
