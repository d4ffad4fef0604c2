package manifest

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// source maps yaml.v3 positions (1-based line, 1-based column counted in
// characters) to byte offsets of the original text.
type source struct {
	file  string
	data  []byte
	lines []int // byte offset where each line starts
}

var bom = []byte("\xEF\xBB\xBF")

func newSource(file string, data []byte) *source {
	s := &source{file: file, data: data}
	start := 0
	if bytes.HasPrefix(data, bom) {
		start = len(bom) // yaml.v3 does not count the byte order mark as a column
	}
	s.lines = append(s.lines, start)
	for i := start; i < len(data); {
		if n := breakLen(data[i:]); n > 0 {
			i += n
			s.lines = append(s.lines, i)
			continue
		}
		i++
	}
	return s
}

// breakLen returns the length of the line break at the start of b, or 0.
// The set is yaml.v3's: CRLF, LF, CR, NEL, LS and PS.
func breakLen(b []byte) int {
	switch {
	case len(b) == 0:
		return 0
	case b[0] == '\r' && len(b) > 1 && b[1] == '\n':
		return 2
	case b[0] == '\n' || b[0] == '\r':
		return 1
	case b[0] == 0xC2 && len(b) > 1 && b[1] == 0x85:
		return 2
	case b[0] == 0xE2 && len(b) > 2 && b[1] == 0x80 && (b[2] == 0xA8 || b[2] == 0xA9):
		return 3
	}
	return 0
}

// offset returns the byte offset of a yaml.v3 line and column.
func (s *source) offset(line, col int) (int, bool) {
	if line < 1 || line > len(s.lines) || col < 1 {
		return 0, false
	}
	off := s.lines[line-1]
	for c := 1; c < col; c++ {
		if off >= len(s.data) || breakLen(s.data[off:]) > 0 {
			return 0, false
		}
		_, n := utf8.DecodeRune(s.data[off:])
		off += n
	}
	return off, true
}

// lineOf returns the 1-based line holding byte offset off.
func (s *source) lineOf(off int) int {
	return sort.Search(len(s.lines), func(i int) bool { return s.lines[i] > off })
}

// lineEnd returns where the content of the line holding off ends and where
// the next line starts (equal at the end of a file without a final break).
func (s *source) lineEnd(off int) (end, next int) {
	for end = off; end < len(s.data); end++ {
		if n := breakLen(s.data[end:]); n > 0 {
			return end, end + n
		}
	}
	return end, end
}

// eol returns the file's line ending: that of its first line, or LF.
func (s *source) eol() string {
	for i := range s.data {
		if n := breakLen(s.data[i:]); n > 0 {
			return string(s.data[i : i+n])
		}
	}
	return "\n"
}

// span is the byte extent of a scalar in the source, quotes included.
type span struct{ start, end int }

func (s *source) unsupported(path, format string, args ...any) error {
	return errorf(ErrUnsupported, s.file, path, format, args...)
}

// scalar returns the exact extent of scalar n, after any anchor or tag, and
// checks that those bytes decode to n.Value, so a splice never lands beside
// its target. Empty plain values have no extent; see valueInsert.
func (s *source) scalar(n *yaml.Node, path string) (span, error) {
	if n.Kind != yaml.ScalarNode {
		return span{}, s.unsupported(path, "value is not a scalar")
	}
	off, ok := s.offset(n.Line, n.Column)
	if !ok {
		return span{}, s.unsupported(path, "cannot locate value at line %d", n.Line)
	}
	// Skip node properties (&anchor, !tag) written before the value; no
	// scalar itself starts with & or !.
	for off < len(s.data) && (s.data[off] == '&' || s.data[off] == '!') {
		for off < len(s.data) && !isBlank(s.data[off]) && breakLen(s.data[off:]) == 0 {
			off++
		}
		for off < len(s.data) && isBlank(s.data[off]) {
			off++
		}
	}
	end := off
	lineEnd, _ := s.lineEnd(off)
	if off >= lineEnd {
		return span{}, s.unsupported(path, "cannot locate value at line %d", n.Line)
	}
	switch n.Style &^ (yaml.TaggedStyle | yaml.FlowStyle) {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		q := s.data[off]
		if q != '"' && q != '\'' {
			return span{}, s.unsupported(path, "cannot locate quoted value at line %d", n.Line)
		}
		for end = off + 1; end < lineEnd; end++ {
			c := s.data[end]
			if q == '"' && c == '\\' {
				end++
				continue
			}
			if c == q {
				if q == '\'' && end+1 < lineEnd && s.data[end+1] == '\'' {
					end++
					continue
				}
				break
			}
		}
		if end >= lineEnd {
			return span{}, s.unsupported(path, "a quoted value over several lines is not supported (line %d)", n.Line)
		}
		end++
		var v string
		if err := yaml.Unmarshal(s.data[off:end], &v); err != nil || v != n.Value {
			return span{}, s.unsupported(path, "cannot locate quoted value at line %d", n.Line)
		}
	case 0:
		if n.Value == "" {
			return span{}, s.unsupported(path, "empty value at line %d", n.Line)
		}
		end = off + len(n.Value)
		if end > lineEnd || string(s.data[off:end]) != n.Value {
			return span{}, s.unsupported(path, "a plain value over several lines is not supported (line %d)", n.Line)
		}
		if end < lineEnd && !isBlank(s.data[end]) && !strings.ContainsRune(",]}:", rune(s.data[end])) {
			return span{}, s.unsupported(path, "cannot locate value at line %d", n.Line)
		}
	default:
		return span{}, s.unsupported(path, "block scalars (| or >) are not supported (line %d)", n.Line)
	}
	return span{off, end}, nil
}

func isQuoted(n *yaml.Node) bool {
	return n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// isNull reports whether n is an empty plain value, as in "digest:".
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "" && n.Style == 0 && n.Anchor == ""
}

// edit replaces data[start:end] with text; valueAt is where the new value
// starts within text, for the line number of the change.
type edit struct {
	start, end int
	text       string
	valueAt    int
	change     Change
}

// render writes value in the quoting style of old: plain stays plain unless
// the value would then read as something other than a string.
func render(value string, style yaml.Style) string {
	switch style &^ (yaml.TaggedStyle | yaml.FlowStyle) {
	case yaml.SingleQuotedStyle:
		return "'" + strings.ReplaceAll(value, "'", "''") + "'"
	case yaml.DoubleQuotedStyle:
		return doubleQuote(value)
	}
	if plainSafe(value) {
		return value
	}
	return doubleQuote(value)
}

func doubleQuote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// plainSafe reports whether value can be written as a plain scalar and
// read back as the same string.
func plainSafe(value string) bool {
	if value == "" || strings.ContainsAny(value, " \t#,[]{}'\"\\\r\n") || strings.ContainsAny(value[:1], "-?:&*!|>%@`") {
		return false
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(value), &n); err != nil || len(n.Content) != 1 {
		return false
	}
	c := n.Content[0]
	return c.Kind == yaml.ScalarNode && c.ShortTag() == "!!str" && c.Value == value
}

// replace returns the edit setting scalar n to value, or nil when it
// already holds it.
func (s *source) replace(n *yaml.Node, value, path string) (*edit, error) {
	if n.Kind == yaml.AliasNode {
		return nil, s.unsupported(path, "value is an alias (*%s); edit its anchor", n.Value)
	}
	if n.Kind == yaml.ScalarNode && n.Value == value && n.ShortTag() == "!!str" {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode && n.Value == value && isQuoted(n) {
		return nil, nil
	}
	if isNull(n) {
		return nil, s.unsupported(path, "empty value at line %d", n.Line)
	}
	sp, err := s.scalar(n, path)
	if err != nil {
		return nil, err
	}
	return &edit{start: sp.start, end: sp.end, text: render(value, n.Style),
		change: Change{File: s.file, Path: path, Old: n.Value, New: value}}, nil
}

// set returns the edit setting the value of the mapping entry key: value,
// also when the value is empty ("key:" with nothing after it).
func (s *source) set(key, val *yaml.Node, value, path string) (*edit, error) {
	if !isNull(val) {
		return s.replace(val, value, path)
	}
	ks, err := s.scalar(key, path)
	if err != nil {
		return nil, err
	}
	i := ks.end
	for i < len(s.data) && isBlank(s.data[i]) {
		i++
	}
	if i >= len(s.data) || s.data[i] != ':' {
		return nil, s.unsupported(path, "cannot locate empty value at line %d", key.Line)
	}
	i++
	// Only blanks or a comment may follow, or the value is elsewhere.
	end, _ := s.lineEnd(i)
	if rest := strings.TrimLeft(string(s.data[i:end]), " \t"); rest != "" && rest[0] != '#' {
		return nil, s.unsupported(path, "cannot locate empty value at line %d", key.Line)
	}
	return &edit{start: i, end: i, text: " " + render(value, 0), valueAt: 1,
		change: Change{File: s.file, Path: path, New: value}}, nil
}

// apply splices edits into the data and returns the new bytes with one
// change per edit, its Line being where the new value now sits (or, for a
// removal, where the old one sat).
func (s *source) apply(edits []*edit) ([]byte, []Change, error) {
	var es []*edit
	for _, e := range edits {
		if e != nil {
			es = append(es, e)
		}
	}
	if len(es) == 0 {
		return s.data, nil, nil
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].start < es[j].start })
	var out bytes.Buffer
	out.Grow(len(s.data) + 256)
	pos := 0
	at := make([]int, len(es))
	for i, e := range es {
		if e.start < pos || e.end < e.start || e.end > len(s.data) {
			return nil, nil, s.unsupported("", "overlapping edits")
		}
		out.Write(s.data[pos:e.start])
		at[i] = out.Len() + e.valueAt
		out.WriteString(e.text)
		pos = e.end
	}
	out.Write(s.data[pos:])
	res := out.Bytes()
	ns := newSource(s.file, res)
	var changes []Change
	for i, e := range es {
		c := e.change
		if c.Path == "" {
			continue // structure around a change, such as a new "images:" key
		}
		if e.text == "" {
			c.Line = s.lineOf(e.start)
		} else {
			c.Line = ns.lineOf(at[i])
		}
		changes = append(changes, c)
	}
	return res, changes, nil
}

// pathf formats a YAML path segment list such as images[name=web].digest.
func pathf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
