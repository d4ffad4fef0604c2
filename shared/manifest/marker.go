package manifest

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// markerRE matches a marker comment at the end of a line:
// "# conveyor:image <app>[:digest|:repository|:tag]".
var markerRE = regexp.MustCompile(`(?:^|[ \t])#[ \t]*conveyor:image[ \t]+([A-Za-z0-9][A-Za-z0-9._-]*)(?::(digest|repository|tag))?[ \t]*$`)

// hasMarker reports whether data marks a value for app.
func hasMarker(data []byte, app string) bool {
	if !strings.Contains(string(data), "conveyor:image") {
		return false
	}
	s := newSource("", data)
	for i := range s.lines {
		if m := s.marker(i + 1); m != nil && m.app == app {
			return true
		}
	}
	return false
}

type marker struct {
	app, part string
	comment   int // offset of the comment's "#"
}

// marker returns the marker comment of a line, or nil.
func (s *source) marker(line int) *marker {
	start := s.lines[line-1]
	end, _ := s.lineEnd(start)
	text := string(s.data[start:end])
	m := markerRE.FindStringSubmatchIndex(text)
	if m == nil {
		return nil
	}
	hash := start + m[0] + strings.IndexByte(text[m[0]:], '#')
	mk := &marker{app: text[m[2]:m[3]], comment: hash}
	if m[4] >= 0 {
		mk.part = text[m[4]:m[5]]
	}
	return mk
}

// planMarker replaces the value before every "# conveyor:image <app>"
// comment: the whole reference, or with ":digest", ":repository" or ":tag"
// that part of it. The value is the last word before the comment, quoted or
// plain (after "key:", "- " or "KEY="). At least one marker must write the
// digest; a ":tag" marker is left alone when the ref has no tag.
func planMarker(s *source, t Target, ref Ref) ([]*edit, error) {
	if t.App == "" {
		return nil, errorf(ErrInvalidTarget, s.file, "", "marker needs an app name")
	}
	var edits []*edit
	found, digest := false, false
	for line := 1; line <= len(s.lines); line++ {
		mk := s.marker(line)
		if mk == nil || mk.app != t.App {
			continue
		}
		found = true
		p := "conveyor:image " + t.App
		if mk.part != "" {
			p += ":" + mk.part
		}
		var value string
		switch mk.part {
		case "":
			value, digest = ref.Image(t.KeepTag), true
		case "digest":
			value, digest = ref.Digest, true
		case "repository":
			value = ref.Repository
		case "tag":
			if ref.Tag == "" {
				continue
			}
			value = ref.Tag
		}
		sp, style, old, ok := s.markedValue(s.lines[line-1], mk.comment)
		if !ok || mk.part == "" && !looksLikeImage(old) {
			return nil, errorf(ErrUnsupported, s.file, p, "line %d: no image reference before the marker", line)
		}
		if old == value {
			continue
		}
		edits = append(edits, &edit{start: sp.start, end: sp.end, text: render(value, style),
			change: Change{File: s.file, Path: p, Old: old, New: value}})
	}
	switch {
	case !found:
		return nil, errorf(ErrTargetNotFound, s.file, "conveyor:image "+t.App, "no marker comment for app %q", t.App)
	case !digest:
		return nil, errorf(ErrTargetNotFound, s.file, "conveyor:image "+t.App, "no marker writes the digest; a tag alone is never written")
	}
	return edits, nil
}

// markedValue returns the extent, quoting style and text of the value that
// ends before the comment at offset hash on the line starting at start.
func (s *source) markedValue(start, hash int) (sp span, style yaml.Style, value string, ok bool) {
	end := hash
	for end > start && isBlank(s.data[end-1]) {
		end--
	}
	if end == start {
		return span{}, 0, "", false
	}
	text := string(s.data[start:end])
	switch q := text[len(text)-1]; q {
	case '"', '\'':
		i := len(text) - 2
		for ; i >= 0; i-- {
			if text[i] != q {
				continue
			}
			if q == '"' && i > 0 && text[i-1] == '\\' || q == '\'' && i > 0 && text[i-1] == '\'' {
				i--
				continue
			}
			break
		}
		if i < 0 {
			return span{}, 0, "", false
		}
		var v string
		if err := yaml.Unmarshal([]byte(text[i:]), &v); err != nil {
			return span{}, 0, "", false
		}
		style = yaml.DoubleQuotedStyle
		if q == '\'' {
			style = yaml.SingleQuotedStyle
		}
		return span{start + i, end}, style, v, true
	}
	i := strings.LastIndexAny(text, " \t=") + 1
	word := text[i:]
	if word == "" || strings.HasSuffix(word, ":") || strings.ContainsAny(word[:1], "-#&*!|>'\"%@`{[") {
		return span{}, 0, "", false
	}
	return span{start + i, end}, 0, word, true
}
