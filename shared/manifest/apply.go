package manifest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// Result reports what Apply changed, for the promotion pull request.
type Result struct {
	Strategy string   // the strategy used, detected or given
	Changes  []Change // in file order, then line order; empty when nothing changed
}

// Files returns the files that changed, sorted.
func (r *Result) Files() []string {
	seen := map[string]bool{}
	var files []string
	for _, c := range r.Changes {
		if !seen[c.File] {
			seen[c.File] = true
			files = append(files, c.File)
		}
	}
	sort.Strings(files)
	return files
}

// Apply sets ref for target t in the file or directory at name under root
// and writes each changed file in place, atomically (a temporary file in the
// same directory, renamed over the original, mode kept).
//
// For a directory, the kustomize strategy edits its kustomization file, the
// helm strategy its values.yaml, and raw and marker every *.yaml and *.yml
// file below it that holds the target (files without it are skipped; none
// holding it is ErrTargetNotFound). Every file is edited in memory before
// any is written, so a failure writes nothing. An empty t.Strategy is
// detected, see Detect.
func Apply(root *os.Root, name string, t Target, ref Ref) (*Result, error) {
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("checking ref %q: %w", ref.String(), err)
	}
	name, err := cleanName(name)
	if err != nil {
		return nil, err
	}
	strategy, err := Detect(root, name, t)
	if err != nil {
		return nil, err
	}
	t.Strategy = strategy
	files, scan, err := targetFiles(root, name, strategy)
	if err != nil {
		return nil, err
	}
	type output struct {
		name string
		data []byte
		mode fs.FileMode
	}
	var outs []output
	res := &Result{Strategy: strategy}
	var notFound []error
	for _, f := range files {
		data, mode, err := readFile(root, f)
		if err != nil {
			return nil, err
		}
		out, changes, err := Edit(f, data, t, ref)
		if scan && errors.Is(err, ErrTargetNotFound) {
			notFound = append(notFound, err)
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(changes) > 0 {
			outs = append(outs, output{f, out, mode})
			res.Changes = append(res.Changes, changes...)
		}
	}
	switch {
	case len(notFound) == 1 && len(files) == 1:
		return nil, notFound[0]
	case len(notFound) == len(files):
		return nil, errorf(ErrTargetNotFound, name, "", "none of %d YAML files holds %s", len(files), describe(t))
	}
	for _, o := range outs {
		if err := writeFile(root, o.name, o.data, o.mode); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// Detect returns the strategy Apply uses for the file or directory at name:
// t.Strategy when set; kustomize for a kustomization file or a directory
// holding one; helm when Helm paths are set; marker when a file (or a YAML
// file below the directory) marks t.App; raw otherwise.
func Detect(root *os.Root, name string, t Target) (string, error) {
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
	fi, err := root.Stat(name)
	if err != nil {
		return "", fmt.Errorf("detecting the strategy of %s: %w", name, err)
	}
	if !fi.IsDir() {
		data, _, err := readFile(root, name)
		if err != nil {
			return "", err
		}
		return detectFile(name, data, t), nil
	}
	if k, _ := kustomizationIn(root, name); k != "" {
		return StrategyKustomize, nil
	}
	if t.HelmImage != "" || t.HelmRepository != "" {
		return StrategyHelm, nil
	}
	if t.App != "" {
		files, err := yamlFiles(root, name)
		if err != nil {
			return "", err
		}
		for _, f := range files {
			data, _, err := readFile(root, f)
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

// targetFiles returns the files to edit at name and whether they were found
// by scanning a directory.
func targetFiles(root *os.Root, name, strategy string) (files []string, scan bool, err error) {
	fi, err := root.Stat(name)
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", name, err)
	}
	if !fi.IsDir() {
		return []string{name}, false, nil
	}
	switch strategy {
	case StrategyKustomize:
		k, err := kustomizationIn(root, name)
		if k == "" && err == nil {
			err = errorf(ErrTargetNotFound, name, "", "no kustomization file (%s)", strings.Join(kustomizationNames, ", "))
		}
		return []string{k}, false, err
	case StrategyHelm:
		return []string{path.Join(name, "values.yaml")}, false, nil
	}
	files, err = yamlFiles(root, name)
	if err == nil && len(files) == 0 {
		err = errorf(ErrTargetNotFound, name, "", "no *.yaml or *.yml files")
	}
	return files, true, err
}

func kustomizationIn(root *os.Root, dir string) (string, error) {
	for _, n := range kustomizationNames {
		p := path.Join(dir, n)
		if fi, err := root.Lstat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", nil
}

// yamlFiles lists the regular *.yaml and *.yml files under dir, skipping
// hidden directories, in lexical order.
func yamlFiles(root *os.Root, dir string) ([]string, error) {
	var files []string
	err := fs.WalkDir(root.FS(), dir, func(p string, d fs.DirEntry, err error) error {
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

// cleanName turns name into a path fs.FS and os.Root accept.
func cleanName(name string) (string, error) {
	p := path.Clean(strings.TrimPrefix(name, "./"))
	if !fs.ValidPath(p) {
		return "", fmt.Errorf("%w: path %q is not relative to the repository root", ErrInvalidTarget, name)
	}
	return p, nil
}

// readFile reads a regular file of at most MaxFileSize bytes.
func readFile(root *os.Root, name string) ([]byte, fs.FileMode, error) {
	fi, err := root.Lstat(name)
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, errorf(ErrUnsupported, name, "", "not a regular file")
	}
	if fi.Size() > MaxFileSize {
		return nil, 0, errorf(ErrTooLarge, name, "", "%d bytes, over the limit of %d", fi.Size(), MaxFileSize)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return nil, 0, errorf(ErrTooLarge, name, "", "%d bytes, over the limit of %d", len(data), MaxFileSize)
	}
	return data, fi.Mode().Perm(), nil
}

// writeFile replaces name with data through a temporary file in the same
// directory, so a reader sees the old bytes or the new ones, never a part.
func writeFile(root *os.Root, name string, data []byte, mode fs.FileMode) (err error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(path.Dir(name), "."+path.Base(name)+"."+hex.EncodeToString(rnd[:])+".tmp")
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			_ = root.Remove(tmp)
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode) // the umask may have narrowed it
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}
