package manifest

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// lastLine returns the 1-based line on which node n ends.
func (s *source) lastLine(n *yaml.Node, path string) (int, error) {
	switch {
	case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
		return s.lastLine(n.Content[0], path)
	case n.Kind == yaml.AliasNode:
		return n.Line, nil
	case n.Kind == yaml.ScalarNode:
		sp, err := s.scalar(n, path)
		if err != nil {
			return 0, err
		}
		return s.lineOf(sp.start), nil
	case n.Style&yaml.FlowStyle != 0:
		end, err := s.flowEnd(n, path)
		if err != nil {
			return 0, err
		}
		return s.lineOf(end - 1), nil
	case n.Kind == yaml.MappingNode && len(n.Content) >= 2:
		k, v := n.Content[len(n.Content)-2], n.Content[len(n.Content)-1]
		if isNull(v) {
			return s.lastLine(k, path)
		}
		return s.lastLine(v, path)
	case n.Kind == yaml.SequenceNode && len(n.Content) > 0 && !isNull(n.Content[len(n.Content)-1]):
		return s.lastLine(n.Content[len(n.Content)-1], path)
	}
	return 0, s.unsupported(path, "cannot find where the value at line %d ends", n.Line)
}

// flowEnd returns the offset just past the closing bracket of flow
// collection n.
func (s *source) flowEnd(n *yaml.Node, path string) (int, error) {
	off, ok := s.offset(n.Line, n.Column)
	for ok && off < len(s.data) && (s.data[off] == '&' || s.data[off] == '!') {
		for off < len(s.data) && !isBlank(s.data[off]) && breakLen(s.data[off:]) == 0 {
			off++
		}
		for off < len(s.data) && isBlank(s.data[off]) {
			off++
		}
	}
	if !ok || off >= len(s.data) || (s.data[off] != '[' && s.data[off] != '{') {
		return 0, s.unsupported(path, "cannot locate value at line %d", n.Line)
	}
	depth := 0
	for i := off; i < len(s.data); i++ {
		switch c := s.data[i]; c {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		case '"', '\'':
			for i++; i < len(s.data) && s.data[i] != c; i++ {
				if c == '"' && s.data[i] == '\\' {
					i++
				}
			}
		case '#':
			if i > 0 && (isBlank(s.data[i-1]) || breakLen(s.data[i-1:]) > 0) {
				i, _ = s.lineEnd(i)
				i--
			}
		}
	}
	return 0, s.unsupported(path, "cannot locate value at line %d", n.Line)
}

// valueEnd returns the offset just past the value of mapping entry k: v.
func (s *source) valueEnd(k, v *yaml.Node, path string) (int, error) {
	switch {
	case isNull(v):
		ks, err := s.scalar(k, path)
		if err != nil {
			return 0, err
		}
		i := ks.end
		for i < len(s.data) && isBlank(s.data[i]) {
			i++
		}
		if i < len(s.data) && s.data[i] == ':' {
			return i + 1, nil
		}
	case v.Kind == yaml.ScalarNode:
		sp, err := s.scalar(v, path)
		return sp.end, err
	case v.Style&yaml.FlowStyle != 0:
		return s.flowEnd(v, path)
	}
	return 0, s.unsupported(path, "cannot find where the value at line %d ends", v.Line)
}

// insert returns the edit adding "key: value" as the last entry of mapping
// m: a new line indented like m's keys, ending like the line before it, or
// ", key: value" in a flow mapping.
func (s *source) insert(m *yaml.Node, key, value, path string) (*edit, error) {
	if m.Kind != yaml.MappingNode || len(m.Content) < 2 {
		return nil, s.unsupported(path, "cannot add %q to the value at line %d", key, m.Line)
	}
	entry := key + ": " + render(value, 0)
	change := Change{File: s.file, Path: path, New: value}
	if m.Style&yaml.FlowStyle != 0 {
		end, err := s.valueEnd(m.Content[len(m.Content)-2], m.Content[len(m.Content)-1], path)
		if err != nil {
			return nil, err
		}
		return &edit{start: end, end: end, text: ", " + entry, valueAt: len(", " + key + ": "), change: change}, nil
	}
	ll, err := s.lastLine(m, path)
	if err != nil {
		return nil, err
	}
	head := strings.Repeat(" ", m.Content[0].Column-1) + key + ": "
	return s.insertAfter(ll, []newLine{{text: head + render(value, 0), valueAt: len(head), change: change}})[0], nil
}

// newLine is a line to insert, without its line break. A change with an
// empty Path is not reported.
type newLine struct {
	text    string
	valueAt int
	change  Change
}

// insertAfter returns the edits inserting lines after line (1-based), or at
// the end of the file for line 0, ending each like that line (or like the
// file). After a last line without a final break, the break goes first so
// the file still ends without one.
func (s *source) insertAfter(line int, lines []newLine) []*edit {
	eol := s.eol()
	at := len(s.data)
	lead := len(s.data) > 0 && s.lines[len(s.lines)-1] != len(s.data)
	if line > 0 {
		end, next := s.lineEnd(s.lines[line-1])
		at, lead = next, end == next
		if !lead {
			eol = string(s.data[end:next])
		}
	}
	edits := make([]*edit, len(lines))
	for i, l := range lines {
		e := &edit{start: at, end: at, text: l.text + eol, valueAt: l.valueAt, change: l.change}
		if lead {
			e.text, e.valueAt = eol+l.text, len(eol)+l.valueAt
		}
		edits[i] = e
	}
	return edits
}

// remove returns the edit deleting entry i (the index of its key in
// m.Content) from mapping m: its whole line when the key starts the line,
// otherwise the key and value up to the next key.
func (s *source) remove(m *yaml.Node, i int, path string) (*edit, error) {
	k, v := m.Content[i], m.Content[i+1]
	change := Change{File: s.file, Path: path, Old: v.Value}
	ks, err := s.scalar(k, path)
	if err != nil {
		return nil, err
	}
	vend, err := s.valueEnd(k, v, path)
	if err != nil {
		return nil, err
	}
	upTo := func() (*edit, error) { // from the key to the next key
		if i+2 >= len(m.Content) {
			return nil, s.unsupported(path, "cannot remove the value at line %d", k.Line)
		}
		nk, err := s.scalar(m.Content[i+2], path)
		if err != nil {
			return nil, err
		}
		return &edit{start: ks.start, end: nk.start, change: change}, nil
	}
	if m.Style&yaml.FlowStyle != 0 {
		if i == 0 {
			return upTo()
		}
		pe, err := s.valueEnd(m.Content[i-2], m.Content[i-1], path)
		if err != nil {
			return nil, err
		}
		return &edit{start: pe, end: vend, change: change}, nil
	}
	line := s.lineOf(ks.start)
	if s.lineOf(vend) != line || v.Kind != yaml.ScalarNode {
		return nil, s.unsupported(path, "cannot remove the value at line %d", k.Line)
	}
	start := s.lines[line-1]
	if strings.Trim(string(s.data[start:ks.start]), " ") != "" {
		return upTo() // "- key: value", the first entry of a sequence item
	}
	end, next := s.lineEnd(vend)
	if end == next && line > 1 {
		// The last line of a file without a final line break: take the
		// break before it instead, so the file still ends without one.
		start, _ = s.lineEnd(s.lines[line-2])
	}
	return &edit{start: start, end: next, change: change}, nil
}

// lookup returns the key and value of the entries of mapping m named key.
func lookup(m *yaml.Node, key string) (idx []int) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			idx = append(idx, i)
		}
	}
	return idx
}

// get returns the value of the single entry key of mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if idx := lookup(m, key); len(idx) == 1 {
		return m.Content[idx[0]+1]
	}
	return nil
}
