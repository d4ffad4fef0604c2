package manifest

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// kustomizationNames are the file names kustomize reads, in its order.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func isKustomization(base string) bool {
	for _, n := range kustomizationNames {
		if base == n {
			return true
		}
	}
	return false
}

// planKustomize sets digest: in the images: entry whose name or newName is
// the target repository, sets newName when the written repository differs
// from name, and removes newTag unless the tag is kept. Without a matching
// entry it appends one, creating images: when needed.
func planKustomize(s *source, t Target, ref Ref) ([]*edit, error) {
	docs, err := s.parse()
	if err != nil {
		return nil, err
	}
	match := t.Repository
	if match == "" {
		match = ref.Repository
	}
	top := root(docs)
	if top != nil && !isNull(top) && top.Kind != yaml.MappingNode {
		return nil, s.unsupported("", "a kustomization must be a mapping")
	}
	idx := lookup(top, "images")
	switch {
	case len(idx) > 1:
		return nil, errorf(ErrAmbiguous, s.file, "images", "%d images: keys", len(idx))
	case len(idx) == 0:
		return s.appendImages(top, match, ref, t.KeepTag)
	}
	key, images := top.Content[idx[0]], top.Content[idx[0]+1]
	if isNull(images) {
		ll, err := s.lastLine(key, "images")
		if err != nil {
			return nil, err
		}
		return s.insertAfter(ll, s.newEntry(key.Column-1, key.Column+1, match, ref, t.KeepTag)), nil
	}
	if images.Kind != yaml.SequenceNode || images.Style&yaml.FlowStyle != 0 {
		return nil, s.unsupported("images", "only a block sequence of images is supported")
	}
	var found []*yaml.Node
	for _, e := range images.Content {
		if name, nn := get(e, "name"), get(e, "newName"); name != nil && sameRepository(name.Value, match) ||
			nn != nil && sameRepository(nn.Value, match) {
			found = append(found, e)
		}
	}
	p := pathf("images[name=%s]", match)
	switch len(found) {
	case 0:
		item := images.Content[0]
		if item.Kind != yaml.MappingNode || len(item.Content) == 0 {
			return nil, s.unsupported("images", "only entries that are mappings are supported")
		}
		dash, err := s.dashColumn(item)
		if err != nil {
			return nil, err
		}
		ll, err := s.lastLine(images, "images")
		if err != nil {
			return nil, err
		}
		return s.insertAfter(ll, s.newEntry(dash, item.Content[0].Column-1, match, ref, t.KeepTag)), nil
	case 1:
		return s.editEntry(found[0], ref, t.KeepTag)
	}
	return nil, errorf(ErrAmbiguous, s.file, p, "%d entries match %q", len(found), match)
}

// editEntry edits one images: entry in place.
func (s *source) editEntry(e *yaml.Node, ref Ref, keepTag bool) ([]*edit, error) {
	name := get(e, "name")
	if name == nil {
		name = &yaml.Node{} // matched by newName
	}
	label := name.Value
	if nn := get(e, "newName"); label == "" && nn != nil {
		label = nn.Value
	}
	p := pathf("images[name=%s]", label)
	var edits []*edit
	for _, key := range []string{"name", "newName", "newTag", "digest"} {
		if n := len(lookup(e, key)); n > 1 {
			return nil, errorf(ErrAmbiguous, s.file, p+"."+key, "%d %s: keys", n, key)
		}
	}
	// setOrAdd sets key to value, adding it at the end of the entry.
	setOrAdd := func(key, value string) error {
		var ed *edit
		var err error
		if idx := lookup(e, key); len(idx) == 1 {
			ed, err = s.set(e.Content[idx[0]], e.Content[idx[0]+1], value, p+"."+key)
		} else {
			ed, err = s.insert(e, key, value, p+"."+key)
		}
		edits = append(edits, ed)
		return err
	}
	if nn := get(e, "newName"); nn != nil && !sameRepository(nn.Value, ref.Repository) ||
		nn == nil && !sameRepository(name.Value, ref.Repository) {
		if err := setOrAdd("newName", ref.Repository); err != nil {
			return nil, err
		}
	}
	if keepTag && ref.Tag != "" {
		if err := setOrAdd("newTag", ref.Tag); err != nil {
			return nil, err
		}
	} else if idx := lookup(e, "newTag"); len(idx) == 1 {
		// With a digest the tag no longer says which image runs.
		ed, err := s.remove(e, idx[0], p+".newTag")
		if err != nil {
			return nil, err
		}
		edits = append(edits, ed)
	}
	if err := setOrAdd("digest", ref.Digest); err != nil {
		return nil, err
	}
	return edits, nil
}

// dashColumn returns the 0-based column of the "-" that starts sequence
// item, whose first key follows it on the same line.
func (s *source) dashColumn(item *yaml.Node) (int, error) {
	off, ok := s.offset(item.Content[0].Line, item.Content[0].Column)
	line := s.lines[item.Content[0].Line-1]
	if ok {
		i := off - 1
		for i >= line && isBlank(s.data[i]) {
			i--
		}
		if i >= line && s.data[i] == '-' && strings.Trim(string(s.data[line:i]), " ") == "" {
			return i - line, nil
		}
	}
	return 0, s.unsupported("images", "cannot read the indentation of the entry at line %d", item.Line)
}

// newEntry returns the lines of a new images: entry, its "-" at column
// dash and its keys at column keys.
func (s *source) newEntry(dash, keys int, match string, ref Ref, keepTag bool) []newLine {
	p := pathf("images[name=%s]", match)
	fields := [][2]string{{"name", match}}
	if !sameRepository(match, ref.Repository) {
		fields = append(fields, [2]string{"newName", ref.Repository})
	}
	if keepTag && ref.Tag != "" {
		fields = append(fields, [2]string{"newTag", ref.Tag})
	}
	fields = append(fields, [2]string{"digest", ref.Digest})
	lines := make([]newLine, len(fields))
	for i, f := range fields {
		ind := strings.Repeat(" ", keys)
		if i == 0 {
			ind = strings.Repeat(" ", dash) + "-" + strings.Repeat(" ", max(keys-dash-1, 1))
		}
		head := ind + f[0] + ": "
		lines[i] = newLine{text: head + render(f[1], 0), valueAt: len(head),
			change: Change{File: s.file, Path: p + "." + f[0], New: f[1]}}
	}
	return lines
}

// appendImages adds "images:" with one entry after the last line of the
// kustomization's top mapping, or at the end of a file without one.
func (s *source) appendImages(top *yaml.Node, match string, ref Ref, keepTag bool) ([]*edit, error) {
	line, col := 0, 0
	if top != nil && top.Kind == yaml.MappingNode && len(top.Content) > 0 {
		ll, err := s.lastLine(top, "images")
		if err != nil {
			return nil, err
		}
		line, col = ll, top.Content[0].Column-1
	}
	lines := append([]newLine{{text: strings.Repeat(" ", col) + "images:"}}, s.newEntry(col, col+2, match, ref, keepTag)...)
	return s.insertAfter(line, lines), nil
}
