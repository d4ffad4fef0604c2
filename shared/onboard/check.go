package onboard

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"gopkg.in/yaml.v3"
)

// CheckRepo checks cfg, parsed from data, against the GitOps repository
// fsys: each environment's paths exist, hold what its strategy edits (a
// kustomization for kustomize, a values file for helm, YAML for raw and
// marker), and a promotion finds the app's image there (the editor
// promotions use reads it). Each problem names the line of the field and
// the fix. It returns nil when the repository fits.
func CheckRepo(fsys fs.FS, cfg *config.Config, data []byte) config.Errors {
	lines := fieldLines(data)
	var errs config.Errors
	for i := range cfg.Apps {
		a := &cfg.Apps[i]
		for j := range a.Environments {
			e := &a.Environments[j]
			field := fmt.Sprintf("apps[%d].environments[%d]", i, j)
			if strings.HasPrefix(a.Pos.Path, "discover[") {
				// A discovered app is written nowhere: name it as
				// Parse does, at its rule or template.
				field = fmt.Sprintf("%s.environments[%d]", a.Pos.Path, j)
			}
			if es := checkEnv(fsys, cfg.File, field, lines, a, e); len(es) > 0 {
				errs = append(errs, es...)
			}
		}
	}
	return errs
}

func checkEnv(fsys fs.FS, file, field string, lines map[string]config.Pos, a *config.App, e *config.Environment) config.Errors {
	var errs config.Errors
	at := func(f, format string, args ...any) {
		p, ok := lines[f]
		if !ok {
			p, ok = lines[field]
		}
		if !ok {
			p = e.Pos
		}
		errs = append(errs, &config.Error{File: file, Line: p.Line, Column: p.Column, Field: f, Msg: fmt.Sprintf(format, args...)})
	}
	for k, loc := range e.Locations() {
		f := field + ".path"
		if len(e.Paths) > 0 {
			f = field + ".paths[" + strconv.Itoa(k) + "]"
		}
		if msg := locationProblem(fsys, loc, e.Strategy); msg != "" {
			at(f, "%s", msg)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if _, err := promote.Pinned(fsys, a, e); err != nil {
		at(field+".strategy", "%s: fix the %s settings, or the manifests", editProblem(err, e.Name), strategyName(e.Strategy))
	}
	return errs
}

// locationProblem says what is wrong with one path of an environment for
// its strategy, or "".
func locationProblem(fsys fs.FS, loc string, s config.Strategy) string {
	fi, err := fs.Stat(fsys, path.Clean(loc))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("%q does not exist in the repository%s: create it, or fix the path", loc, nearest(fsys, loc))
	}
	if err != nil {
		return fmt.Sprintf("reading %q: %v", loc, err)
	}
	switch s {
	case config.StrategyKustomize:
		if fi.IsDir() && manifest.KustomizationIn(fsys, path.Clean(loc)) == "" {
			return fmt.Sprintf("%q holds no kustomization.yaml: add one with images:, or set strategy to raw or helm", loc)
		}
		if !fi.IsDir() && !manifest.IsKustomization(path.Base(loc)) {
			return fmt.Sprintf("%q is not a kustomization file: point path at the overlay directory, or set strategy: raw", loc)
		}
	case config.StrategyHelm:
		if fi.IsDir() {
			if _, err := fs.Stat(fsys, path.Join(path.Clean(loc), "values.yaml")); err != nil {
				return fmt.Sprintf("%q holds no values.yaml: point path at the environment's values file (such as values-prod.yaml)", loc)
			}
		} else if ext := path.Ext(loc); ext != ".yaml" && ext != ".yml" {
			return fmt.Sprintf("%q is not a YAML values file: point path at the environment's values file", loc)
		}
	case config.StrategyRaw, config.StrategyMarker:
		if !fi.IsDir() {
			if ext := path.Ext(loc); ext != ".yaml" && ext != ".yml" {
				return fmt.Sprintf("%q is not a YAML manifest: point path at the manifest or its directory", loc)
			}
		}
	}
	return ""
}

// nearest names the deepest existing directory on the way to loc, as a
// hint at a typo.
func nearest(fsys fs.FS, loc string) string {
	for d := path.Dir(path.Clean(loc)); d != "." && d != "/"; d = path.Dir(d) {
		entries, err := fs.ReadDir(fsys, d)
		if err != nil {
			continue
		}
		var names []string
		for _, e := range entries {
			if len(names) == 5 {
				names = append(names, "…")
				break
			}
			names = append(names, e.Name())
		}
		return fmt.Sprintf(" (%s holds %v)", d, names)
	}
	return ""
}

func strategyName(s config.Strategy) string {
	if s == "" {
		return "environment's"
	}
	return string(s)
}

// editProblem is what a promotion's editor said, without the context
// Pinned adds: the field already names the environment.
func editProblem(err error, env string) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, "environment "+env+": "); ok {
		return rest
	}
	return msg
}

// fieldLines maps the field paths of each environment (as config names
// them: apps[0].environments[1].path) to where they are written.
func fieldLines(data []byte) map[string]config.Pos {
	out := map[string]config.Pos{}
	var doc yaml.Node
	if yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc) != nil || len(doc.Content) == 0 {
		return out
	}
	apps := field(doc.Content[0], "apps")
	if apps == nil || apps.Kind != yaml.SequenceNode {
		return out
	}
	for i, a := range apps.Content {
		envs := field(a, "environments")
		if envs == nil || envs.Kind != yaml.SequenceNode {
			continue
		}
		for j, e := range envs.Content {
			p := fmt.Sprintf("apps[%d].environments[%d]", i, j)
			out[p] = config.Pos{Line: e.Line, Column: e.Column, Path: p}
			for k := 0; k+1 < len(e.Content); k += 2 {
				key, v := e.Content[k], e.Content[k+1]
				out[p+"."+key.Value] = config.Pos{Line: v.Line, Column: v.Column}
				if key.Value == "paths" && v.Kind == yaml.SequenceNode {
					for n, item := range v.Content {
						out[fmt.Sprintf("%s.paths[%d]", p, n)] = config.Pos{Line: item.Line, Column: item.Column}
					}
				}
			}
		}
	}
	return out
}
