package promote

import (
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
)

// editEnv applies ref to every location of env (path, or each of paths:
// prod-eu and prod-us in one pull request), finding the image by the name
// the manifests use (env.Image.Name after a registry move) and writing the
// pushed one. A file reached from two locations is edited once.
func editEnv(snap fs.FS, app *config.App, env *config.Environment, ref manifest.Ref) (map[string][]byte, []manifest.Change, error) {
	t := target(app, env)
	t.Repository = env.ManifestImage(app)
	out := map[string][]byte{}
	var changes []manifest.Change
	for _, loc := range env.Locations() {
		writes, ch, err := manifest.EditTree(snap, loc, t, ref)
		if err != nil {
			return nil, nil, permanentIfInput(fmt.Errorf("environment %s: %w", env.Name, err))
		}
		for _, c := range ch {
			if _, done := out[c.File]; !done {
				changes = append(changes, c)
			}
		}
		for f, data := range writes {
			out[f] = data
		}
	}
	return out, changes, nil
}

// overlayDirs returns every Kustomize directory whose kustomization an edit
// changed, sorted, for the render check.
func overlayDirs(writes map[string][]byte) []string {
	var dirs []string
	for f := range writes {
		if manifest.IsKustomization(path.Base(f)) {
			dirs = append(dirs, path.Dir(f))
		}
	}
	sort.Strings(dirs)
	return dirs
}
