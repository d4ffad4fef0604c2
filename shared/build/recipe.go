package build

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/imagebuild"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Recipe returns what to build for an app from its checkout: the
// Dockerfile-less spec of conveyor.yaml when it names a base, otherwise the
// Dockerfile, read through an os.Root so a symlinked Dockerfile cannot
// point outside the checkout. Every error is permanent: the same commit
// fails the same way.
func Recipe(checkout string, b config.Build) (*imagebuild.Recipe, error) {
	if b.Base != "" {
		spec := imagebuild.Spec{Base: b.Base, Entrypoint: b.Entrypoint, Cmd: b.Cmd, Env: b.Env, User: b.User,
			Workdir: b.Workdir, Labels: b.Labels, Expose: b.Expose}
		for _, f := range b.Files {
			spec.Files = append(spec.Files, imagebuild.File{Src: f.Src, Dst: f.Dst})
		}
		r, err := imagebuild.RecipeFromSpec(spec)
		if err != nil {
			return nil, retry.Permanent(err)
		}
		return r, nil
	}
	root, err := os.OpenRoot(checkout)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	name := b.Dockerfile
	if name == "" {
		name = config.DefaultDockerfile
	}
	f, err := root.Open(filepath.FromSlash(name))
	if err != nil {
		return nil, retry.Permanent(fmt.Errorf("opening %s: %w", name, err))
	}
	defer f.Close()
	r, err := imagebuild.ParseDockerfile(name, f, b.Args)
	if err != nil {
		return nil, retry.Permanent(err)
	}
	return r, nil
}
