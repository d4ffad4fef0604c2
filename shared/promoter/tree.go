package promoter

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// editTree applies ref to an environment's path in a snapshot of the GitOps
// repository: a file is edited directly; a directory holding a
// kustomization is edited there; otherwise every YAML file below it that
// holds the target is. It returns the new contents of changed files and the
// changes. Missing or ambiguous targets are permanent errors.
func editTree(fsys fs.FS, env *config.Environment, t manifest.Target, ref manifest.Ref) (map[string][]byte, []manifest.Change, error) {
	p := path.Clean(strings.TrimPrefix(env.Path, "/"))
	info, err := fs.Stat(fsys, p)
	if err != nil {
		return nil, nil, retry.Permanent(fmt.Errorf("environment %s: path %s: %w", env.Name, p, err))
	}
	var files []string
	if !info.IsDir() {
		files = []string{p}
	} else if t.Strategy == "" || t.Strategy == manifest.StrategyKustomize {
		for _, n := range kustomizationNames {
			if _, err := fs.Stat(fsys, path.Join(p, n)); err == nil {
				files = []string{path.Join(p, n)}
				if t.Strategy == "" {
					t.Strategy = manifest.StrategyKustomize
				}
				break
			}
		}
	}
	if files == nil {
		if t.Strategy == manifest.StrategyKustomize {
			return nil, nil, retry.Permanent(fmt.Errorf("environment %s: %s has no kustomization.yaml", env.Name, p))
		}
		err := fs.WalkDir(fsys, p, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")) {
				files = append(files, f)
			}
			return nil
		})
		if err != nil {
			return nil, nil, retry.Permanent(fmt.Errorf("environment %s: listing %s: %w", env.Name, p, err))
		}
		sort.Strings(files)
	}
	out := map[string][]byte{}
	var changes []manifest.Change
	found := 0
	var notFound []error
	for _, f := range files {
		data, err := readManifest(fsys, f)
		if err != nil {
			return nil, nil, err
		}
		ft := t
		if info.IsDir() && len(files) > 1 && ft.Strategy == "" {
			// In a directory of many files, only files that name the
			// container or carry the marker are candidates.
			ft.Strategy = detect(data, t)
			if ft.Strategy == "" {
				continue
			}
		}
		next, ch, err := manifest.Edit(f, data, ft, ref)
		switch {
		case errors.Is(err, manifest.ErrTargetNotFound) && len(files) > 1:
			notFound = append(notFound, err)
			continue
		case err != nil:
			return nil, nil, permanentIfInput(err)
		}
		found++
		if len(ch) > 0 {
			out[f] = next
			changes = append(changes, ch...)
		}
	}
	if found == 0 {
		if len(notFound) > 0 {
			return nil, nil, retry.Permanent(fmt.Errorf("environment %s: no file under %s holds the image of %s: %w", env.Name, p, t.App, errors.Join(notFound...)))
		}
		return nil, nil, retry.Permanent(fmt.Errorf("environment %s: no manifest under %s names %s (strategy %q)", env.Name, p, t.App, t.Strategy))
	}
	return out, changes, nil
}

// readManifest reads one file of an environment after checking its size:
// a file the manifest package would refuse is refused before it is read,
// so memory does not grow with it.
func readManifest(fsys fs.FS, f string) ([]byte, error) {
	info, err := fs.Stat(fsys, f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", f, err)
	}
	if info.Size() > manifest.MaxFileSize {
		return nil, retry.Permanent(fmt.Errorf("%s: %w: %d bytes, over the limit of %d", f, manifest.ErrTooLarge, info.Size(), manifest.MaxFileSize))
	}
	data, err := fs.ReadFile(fsys, f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", f, err)
	}
	return data, nil
}

// detect picks the strategy for one file of a multi-file directory, or ""
// when the file cannot hold the target.
func detect(data []byte, t manifest.Target) string {
	s := string(data)
	switch {
	case strings.Contains(s, "conveyor:image "+t.App):
		return manifest.StrategyMarker
	case strings.Contains(s, "containers:"):
		return manifest.StrategyRaw
	}
	return ""
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
