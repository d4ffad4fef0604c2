package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// EditTree sets ref for target t in the file or directory at name of fsys
// (a snapshot of the GitOps repository) and returns the new contents of
// each file that changed, by slash path, and what changed, in file order.
// It writes nothing: the caller commits writes.
//
// A file is edited with t.Strategy, or the strategy detected for it. For a
// directory, see Detect: the kustomize strategy edits its kustomization
// file, the helm strategy its values.yaml, and raw and marker every *.yaml
// and *.yml file below it (hidden directories skipped) that holds the
// target; none holding it is ErrTargetNotFound. Every file is edited before
// anything is returned, so a failure returns no writes. A path that does
// not exist is ErrTargetNotFound; a file over MaxFileSize is refused before
// it is read.
func EditTree(fsys fs.FS, name string, t Target, ref Ref) (map[string][]byte, []Change, error) {
	if err := ref.Validate(); err != nil {
		return nil, nil, fmt.Errorf("checking ref %q: %w", ref.String(), err)
	}
	name, err := cleanName(name)
	if err != nil {
		return nil, nil, err
	}
	strategy, err := Detect(fsys, name, t)
	if err != nil {
		return nil, nil, err
	}
	t.Strategy = strategy
	files, scan, err := targetFiles(fsys, name, strategy)
	if err != nil {
		return nil, nil, err
	}
	writes := map[string][]byte{}
	var changes []Change
	var notFound []error
	for _, f := range files {
		data, err := readFile(fsys, f)
		if err != nil {
			return nil, nil, err
		}
		if scan && len(files) > 1 && !mayHold(data, t) {
			// Not parsed at all: a directory may hold YAML that is not
			// Kubernetes (a chart's templates, CI files).
			notFound = append(notFound, errorf(ErrTargetNotFound, f, "", "no %s", describe(t)))
			continue
		}
		out, ch, err := Edit(f, data, t, ref)
		if scan && errors.Is(err, ErrTargetNotFound) {
			notFound = append(notFound, err)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if len(ch) > 0 {
			writes[f] = out
			changes = append(changes, ch...)
		}
	}
	switch {
	case len(notFound) == 1 && len(files) == 1:
		return nil, nil, notFound[0]
	case len(notFound) == len(files):
		return nil, nil, errorf(ErrTargetNotFound, name, "", "none of %d YAML files holds %s", len(files), describe(t))
	}
	return writes, changes, nil
}

// Detect returns the strategy EditTree uses for the file or directory at
// name: t.Strategy when set; for a file, the one Edit detects (kustomize
// for a kustomization, helm when Helm paths are set, marker when the file
// marks t.App, raw otherwise); for a directory, kustomize when it holds a
// kustomization file, helm when Helm paths are set, marker when a YAML file
// below it marks t.App, raw otherwise.
func Detect(fsys fs.FS, name string, t Target) (string, error) {
	if t.Strategy != "" {
		if _, err := planner(t.Strategy); err != nil {
			return "", err
		}
		return t.Strategy, nil
	}
	name, err := cleanName(name)
	if err != nil {
		return "", err
	}
	fi, err := stat(fsys, name)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		data, err := readFile(fsys, name)
		if err != nil {
			return "", err
		}
		return detectFile(name, data, t), nil
	}
	if k := KustomizationIn(fsys, name); k != "" {
		return StrategyKustomize, nil
	}
	if t.HelmImage != "" || t.HelmRepository != "" {
		return StrategyHelm, nil
	}
	if t.App != "" {
		files, err := yamlFiles(fsys, name)
		if err != nil {
			return "", err
		}
		for _, f := range files {
			data, err := readFile(fsys, f)
			if err != nil {
				return "", err
			}
			if hasMarker(data, t.App) {
				return StrategyMarker, nil
			}
		}
	}
	return StrategyRaw, nil
}

// KustomizationIn returns the kustomization file of dir, in kustomize's
// order of names, or "" when dir holds none.
func KustomizationIn(fsys fs.FS, dir string) string {
	for _, n := range kustomizationNames {
		p := path.Join(dir, n)
		if fi, err := fs.Lstat(fsys, p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// IsKustomization reports whether a file of this base name is a
// kustomization file.
func IsKustomization(base string) bool { return isKustomization(base) }

// describe names what the raw or marker strategy looks for.
func describe(t Target) string {
	if t.Strategy == StrategyMarker {
		return `a "# conveyor:image ` + t.App + `" marker`
	}
	name := t.Container
	if name == "" {
		name = t.App
	}
	return `a container named "` + name + `"`
}

// mayHold reports whether a file of a scanned directory can hold the target
// at all, judged from its bytes without parsing it.
func mayHold(data []byte, t Target) bool {
	if t.Strategy == StrategyMarker {
		return hasMarker(data, t.App)
	}
	// "containers" and "initContainers" both end so.
	return bytes.Contains(data, []byte("ontainers"))
}

// targetFiles returns the files to edit at name and whether they were found
// by scanning a directory.
func targetFiles(fsys fs.FS, name, strategy string) (files []string, scan bool, err error) {
	fi, err := stat(fsys, name)
	if err != nil {
		return nil, false, err
	}
	if !fi.IsDir() {
		return []string{name}, false, nil
	}
	switch strategy {
	case StrategyKustomize:
		k := KustomizationIn(fsys, name)
		if k == "" {
			return nil, false, errorf(ErrTargetNotFound, name, "", "no kustomization file (%s)", strings.Join(kustomizationNames, ", "))
		}
		return []string{k}, false, nil
	case StrategyHelm:
		v := path.Join(name, "values.yaml")
		if _, err := fs.Stat(fsys, v); errors.Is(err, fs.ErrNotExist) {
			return nil, false, errorf(ErrTargetNotFound, name, "", "no values.yaml")
		}
		return []string{v}, false, nil
	}
	files, err = yamlFiles(fsys, name)
	if err == nil && len(files) == 0 {
		err = errorf(ErrTargetNotFound, name, "", "no *.yaml or *.yml files")
	}
	return files, true, err
}

// yamlFiles lists the regular *.yaml and *.yml files under dir, skipping
// hidden directories, in lexical order.
func yamlFiles(fsys fs.FS, dir string) ([]string, error) {
	var files []string
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p != dir && strings.HasPrefix(d.Name(), "."):
			return fs.SkipDir
		case d.Type().IsRegular() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")):
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	return files, nil
}

// cleanName turns name into a path fs.FS accepts.
func cleanName(name string) (string, error) {
	p := path.Clean(strings.TrimPrefix(name, "./"))
	if !fs.ValidPath(p) {
		return "", fmt.Errorf("%w: path %q is not relative to the repository root", ErrInvalidTarget, name)
	}
	return p, nil
}

// stat reports a path that does not exist as ErrTargetNotFound: the
// configuration names it, so retrying cannot make it appear.
func stat(fsys fs.FS, name string) (fs.FileInfo, error) {
	fi, err := fs.Stat(fsys, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, errorf(ErrTargetNotFound, name, "", "no such file or directory")
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return fi, nil
}

// readFile reads a regular file of at most MaxFileSize bytes, checking the
// size before reading so that memory does not grow with a refused file.
func readFile(fsys fs.FS, name string) ([]byte, error) {
	fi, err := fs.Lstat(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errorf(ErrUnsupported, name, "", "not a regular file")
	}
	if fi.Size() > MaxFileSize {
		return nil, errorf(ErrTooLarge, name, "", "%d bytes, over the limit of %d", fi.Size(), MaxFileSize)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return nil, errorf(ErrTooLarge, name, "", "%d bytes, over the limit of %d", len(data), MaxFileSize)
	}
	return data, nil
}
