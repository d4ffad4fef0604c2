package manifest

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// planHelm sets the values at the target's dotted paths: HelmImage to the
// whole reference, or HelmRepository to the repository with HelmDigest to
// the digest and HelmTag to the tag (kept only with KeepTag). With a tag
// path and no digest path the tag becomes "tag@sha256:...", which a chart
// rendering "repository:tag" turns into a pinned reference. A missing leaf
// key is added to its parent; a missing parent is an error.
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
	for _, st := range sets {
		if seen[st.path] {
			return nil, errorf(ErrInvalidTarget, s.file, st.path, "path given twice")
		}
		seen[st.path] = true
		e, err := s.setPath(top, st.path, st.value)
		if err != nil {
			return nil, err
		}
		edits = append(edits, e)
	}
	return edits, nil
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
