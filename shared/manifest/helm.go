package manifest

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// planHelm sets the values at the target's dotted paths: HelmImage to the
// whole reference, or HelmRepository to the repository with HelmDigest to
// the digest and HelmTag to the tag (kept only with KeepTag). With a tag
// path and no digest path the tag becomes "tag@sha256:...", which a chart
// rendering "repository:tag" turns into a pinned reference. A missing key
// is added, with any missing parents (image: under a HelmRelease's
// spec.values), below the deepest mapping that exists.
func planHelm(s *source, t Target, ref Ref) ([]*edit, error) {
	type set struct{ path, value string }
	var sets []set
	switch {
	case t.HelmImage != "" && (t.HelmRepository != "" || t.HelmDigest != "" || t.HelmTag != ""):
		return nil, errorf(ErrInvalidTarget, s.file, t.HelmImage, "an image path cannot be combined with repository, digest or tag paths")
	case t.HelmImage != "":
		sets = []set{{t.HelmImage, ref.Image(t.KeepTag)}}
	case t.HelmRepository == "" || t.HelmDigest == "" && t.HelmTag == "":
		return nil, errorf(ErrInvalidTarget, s.file, "", "helm needs an image path, or a repository path with a digest and/or tag path")
	case t.HelmDigest != "":
		sets = []set{{t.HelmRepository, ref.Repository}, {t.HelmDigest, ref.Digest}}
		if t.HelmTag != "" && t.KeepTag && ref.Tag != "" {
			sets = append(sets, set{t.HelmTag, ref.Tag})
		}
	case ref.Tag == "":
		return nil, errorf(ErrInvalidTarget, s.file, t.HelmTag, "a tag path without a digest path needs a ref with a tag")
	default:
		sets = []set{{t.HelmRepository, ref.Repository}, {t.HelmTag, ref.Tag + "@" + ref.Digest}}
	}
	docs, err := s.parse()
	if err != nil {
		return nil, err
	}
	top := root(docs)
	var edits []*edit
	seen := map[string]bool{}
	adds := &additions{}
	for _, st := range sets {
		if seen[st.path] {
			return nil, errorf(ErrInvalidTarget, s.file, st.path, "path given twice")
		}
		seen[st.path] = true
		if m, at, ok := missingParent(top, st.path); ok {
			// A parent such as image: is not there yet (a HelmRelease
			// whose spec.values sets only replicaCount): it is added,
			// with every value under it, after m's last entry.
			adds.add(m, at, st.path, st.value)
			continue
		}
		e, err := s.setPath(top, st.path, st.value)
		if err != nil {
			return nil, err
		}
		edits = append(edits, e)
	}
	more, err := adds.edits(s)
	if err != nil {
		return nil, err
	}
	return append(edits, more...), nil
}

// missingParent returns the deepest existing block mapping on path and
// the index of the first missing segment, when a parent (not only the
// leaf) is missing below a non-empty block mapping.
func missingParent(top *yaml.Node, path string) (*yaml.Node, int, bool) {
	segs := strings.Split(path, ".")
	m := top
	for i, seg := range segs[:len(segs)-1] {
		if m == nil || m.Kind != yaml.MappingNode {
			return nil, 0, false
		}
		idx := lookup(m, seg)
		if len(idx) == 0 {
			ok := seg != "" && len(m.Content) >= 2 && m.Style&yaml.FlowStyle == 0
			return m, i, ok
		}
		if len(idx) > 1 {
			return nil, 0, false // setPath reports the ambiguity
		}
		m = m.Content[idx[0]+1]
	}
	return nil, 0, false
}

// additions collects new nested entries per existing mapping, in order.
type additions struct {
	maps  []*yaml.Node
	trees map[*yaml.Node]*addTree
}

// addTree is a new mapping to write: keys in order, each a value or a
// subtree.
type addTree struct {
	keys  []string
	value map[string]string
	path  map[string]string // the full dotted path of a leaf
	sub   map[string]*addTree
}

func newAddTree() *addTree {
	return &addTree{value: map[string]string{}, path: map[string]string{}, sub: map[string]*addTree{}}
}

func (a *additions) add(m *yaml.Node, at int, path, value string) {
	if a.trees == nil {
		a.trees = map[*yaml.Node]*addTree{}
	}
	t, ok := a.trees[m]
	if !ok {
		t = newAddTree()
		a.trees[m] = t
		a.maps = append(a.maps, m)
	}
	segs := strings.Split(path, ".")[at:]
	for _, seg := range segs[:len(segs)-1] {
		next, ok := t.sub[seg]
		if !ok {
			next = newAddTree()
			t.sub[seg] = next
			t.keys = append(t.keys, seg)
		}
		t = next
	}
	leaf := segs[len(segs)-1]
	t.keys = append(t.keys, leaf)
	t.value[leaf], t.path[leaf] = value, path
}

// edits returns the insertions: each new tree after the last line of its
// mapping, indented like that mapping's keys plus two spaces per level.
func (a *additions) edits(s *source) ([]*edit, error) {
	var out []*edit
	for _, m := range a.maps {
		ll, err := s.lastLine(m, "")
		if err != nil {
			return nil, err
		}
		out = append(out, s.insertAfter(ll, a.trees[m].lines(s, m.Content[0].Column-1))...)
	}
	return out, nil
}

func (t *addTree) lines(s *source, indent int) []newLine {
	var out []newLine
	for _, k := range t.keys {
		head := strings.Repeat(" ", indent) + k + ":"
		if sub, ok := t.sub[k]; ok {
			out = append(out, newLine{text: head})
			out = append(out, sub.lines(s, indent+2)...)
			continue
		}
		head += " "
		out = append(out, newLine{text: head + render(t.value[k], 0), valueAt: len(head),
			change: Change{File: s.file, Path: t.path[k], New: t.value[k]}})
	}
	return out
}

// setPath returns the edit setting the dotted path under mapping m to value.
func (s *source) setPath(m *yaml.Node, path, value string) (*edit, error) {
	segs := strings.Split(path, ".")
	for _, seg := range segs {
		if seg == "" {
			return nil, errorf(ErrInvalidTarget, s.file, path, "not a dotted YAML path")
		}
	}
	for i, seg := range segs {
		parent := strings.Join(segs[:i], ".")
		if m == nil || m.Kind != yaml.MappingNode {
			if parent == "" {
				return nil, errorf(ErrTargetNotFound, s.file, path, "the file holds no mapping")
			}
			if m.Kind == yaml.AliasNode {
				return nil, s.unsupported(path, "parent %q is an alias (*%s); edit its anchor", parent, m.Value)
			}
			return nil, errorf(ErrTargetNotFound, s.file, path, "parent %q is not a mapping", parent)
		}
		idx := lookup(m, seg)
		switch {
		case len(idx) > 1:
			return nil, errorf(ErrAmbiguous, s.file, path, "key %q appears %d times", strings.Join(segs[:i+1], "."), len(idx))
		case len(idx) == 0 && i < len(segs)-1:
			return nil, errorf(ErrTargetNotFound, s.file, path, "parent %q not found", strings.Join(segs[:i+1], "."))
		case len(idx) == 0:
			return s.insert(m, seg, value, path)
		case i == len(segs)-1:
			return s.set(m.Content[idx[0]], m.Content[idx[0]+1], value, path)
		}
		m = m.Content[idx[0]+1]
	}
	return nil, errorf(ErrInvalidTarget, s.file, path, "not a dotted YAML path")
}
