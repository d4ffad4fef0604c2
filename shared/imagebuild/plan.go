package imagebuild

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// copyPlan is what one COPY or ADD adds: the sorted entries of its layer.
type copyPlan struct {
	step    Step
	entries []entry
}

// cleanSource checks a COPY source from the build context and returns it
// relative to the context root.
func cleanContextSource(src string) (string, error) {
	if path.IsAbs(src) {
		return "", &ContextError{Path: src, Reason: "is absolute; COPY sources are relative to the build context"}
	}
	p := path.Clean(src)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", &ContextError{Path: src, Reason: "is outside the build context"}
	}
	if p == "." {
		p = ""
	}
	return p, nil
}

// cleanStageSource makes a path of an earlier stage's filesystem relative to
// its root; ".." cannot climb above "/".
func cleanStageSource(src string) string {
	p := strings.TrimPrefix(path.Clean("/"+src), "/")
	return p
}

// resolveDest turns a COPY destination into an image path without a leading
// slash, relative ones being relative to workdir, and reports whether it
// names a directory (ends with "/" or is ".").
func resolveDest(workdir, dest string) (string, bool) {
	isDir := strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.")
	if !path.IsAbs(dest) {
		dest = path.Join("/", workdir, dest)
	}
	return strings.TrimPrefix(path.Clean(dest), "/"), isDir
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// glob expands a source pattern component by component with path.Match,
// skipping what .dockerignore excludes.
func glob(src source, pattern string) ([]string, error) {
	paths := []string{""}
	for _, comp := range strings.Split(pattern, "/") {
		if _, err := path.Match(comp, ""); err != nil {
			return nil, &ContextError{Path: pattern, Reason: fmt.Sprintf("bad pattern: %v", err)}
		}
		var next []string
		for _, p := range paths {
			if !hasMeta(comp) {
				next = append(next, path.Join(p, comp))
				continue
			}
			e, err := src.stat(p)
			if err != nil || e.typ != tar.TypeDir {
				continue
			}
			names, err := src.list(p)
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				if ok, _ := path.Match(comp, n); ok {
					next = append(next, path.Join(p, n))
				}
			}
		}
		paths = next
	}
	var out []string
	for _, p := range paths {
		e, err := src.stat(p)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return nil, err
		}
		if !e.ignored {
			out = append(out, p)
		}
	}
	return out, nil
}

// planCopy lists the entries one COPY adds. Sources are clean paths of src;
// dest is an image path (see resolveDest).
func planCopy(src source, sources []string, dest string, destIsDir bool, chown *Owner, chmod *fs.FileMode) ([]entry, []entry, error) {
	var matches []string
	wildcard := false
	for _, s := range sources {
		if !hasMeta(s) {
			matches = append(matches, s)
			continue
		}
		wildcard = true
		m, err := glob(src, s)
		if err != nil {
			return nil, nil, err
		}
		if len(m) == 0 {
			return nil, nil, &ContextError{Path: s, Reason: "matches no files"}
		}
		matches = append(matches, m...)
	}
	if (wildcard || len(matches) > 1) && !destIsDir {
		return nil, nil, recipeProblem(fmt.Sprintf("with more than one source, the destination %q must be a directory ending in /", "/"+dest))
	}
	out := map[string]entry{}
	var roots []entry // what the sources themselves are, for ADD's archive check
	apply := func(e entry) {
		if e.typ != tar.TypeSymlink {
			if chmod != nil {
				e.mode = int64(*chmod & fs.ModePerm)
			}
		}
		if chown != nil {
			e.uid, e.gid = chown.UID, chown.GID
		}
		out[e.name] = e
	}
	for _, m := range matches {
		e, err := src.stat(m)
		if err != nil {
			return nil, nil, err
		}
		if e.ignored && !(e.typ == tar.TypeDir && src.hasExceptions()) {
			return nil, nil, &ContextError{Path: m, Reason: "is excluded by .dockerignore"}
		}
		roots = append(roots, e)
		target := dest
		if e.typ != tar.TypeDir && destIsDir {
			target = path.Join(dest, path.Base(m))
		}
		if target == "" && e.typ != tar.TypeDir {
			return nil, nil, recipeProblem(fmt.Sprintf("cannot copy %q over the image root", m))
		}
		if e.typ == tar.TypeDir {
			if target != "" && !e.ignored {
				e.name = target
				apply(e)
			}
			if err := walk(src, m, target, apply); err != nil {
				return nil, nil, err
			}
			continue
		}
		e.name = target
		apply(e)
	}
	return withParents(out), roots, nil
}

// walk adds what directory dir of src holds, renamed under target.
func walk(src source, dir, target string, add func(entry)) error {
	names, err := src.list(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		p := path.Join(dir, n)
		e, err := src.stat(p)
		if err != nil {
			return err
		}
		if e.ignored && !(e.typ == tar.TypeDir && src.hasExceptions()) {
			continue
		}
		name := path.Join(target, n)
		if e.typ == tar.TypeDir {
			if !e.ignored {
				e.name = name
				add(e)
			}
			if err := walk(src, p, name, add); err != nil {
				return err
			}
			continue
		}
		e.name = name
		add(e)
	}
	return nil
}

// withParents adds the missing parent directories (0755, root) and returns
// the entries sorted by path, parents first.
func withParents(m map[string]entry) []entry {
	for name := range m {
		for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := m[d]; ok {
				break
			}
			m[d] = entry{name: d, typ: tar.TypeDir, mode: 0o755}
		}
	}
	out := make([]entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b entry) int { return comparePaths(a.name, b.name) })
	return out
}

// comparePaths orders paths component by component, so that a directory's
// entries follow it directly ("a", "a/b", "a-b"), as tar listings usually do.
func comparePaths(a, b string) int {
	for {
		ha, ta, okA := strings.Cut(a, "/")
		hb, tb, okB := strings.Cut(b, "/")
		if c := strings.Compare(ha, hb); c != 0 {
			return c
		}
		switch {
		case !okA && !okB:
			return 0
		case !okA:
			return -1
		case !okB:
			return 1
		}
		a, b = ta, tb
	}
}

// stageFS is the filesystem an earlier stage built with its COPY steps: only
// those files are known, not its base image's.
type stageFS struct {
	name    string
	entries map[string]entry
}

func (s *stageFS) add(es []entry) {
	for _, e := range es {
		s.entries[e.name] = e
	}
}

func (s *stageFS) stat(p string) (entry, error) {
	if p == "" {
		return entry{typ: tar.TypeDir, mode: 0o755}, nil
	}
	e, ok := s.entries[p]
	if !ok {
		return entry{}, &ContextError{Path: "/" + p, Reason: fmt.Sprintf("is not copied into stage %q (files of a stage's base image cannot be read)", s.name), notFound: true}
	}
	return e, nil
}

func (s *stageFS) list(p string) ([]string, error) {
	prefix := p + "/"
	if p == "" {
		prefix = ""
	}
	var names []string
	for name := range s.entries {
		if rest, ok := strings.CutPrefix(name, prefix); ok && rest != "" && !strings.Contains(rest, "/") {
			names = append(names, rest)
		}
	}
	slices.Sort(names)
	return names, nil
}

func (s *stageFS) hasExceptions() bool { return false }
