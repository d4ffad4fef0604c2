package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// reporter collects problems and knows where each field was written.
type reporter struct {
	file string
	errs Errors
	pos  map[string]Pos  // field path → position of its value (or struct)
	bad  map[string]bool // fields that already have a decoding error
}

func newReporter(file string) *reporter {
	return &reporter{file: file, pos: map[string]Pos{}, bad: map[string]bool{}}
}

// present reports whether field was written in the file.
func (r *reporter) present(field string) bool {
	_, ok := r.pos[field]
	return ok
}

// at returns the position of field, or of its closest written parent.
func (r *reporter) at(field string) Pos {
	for f := field; ; f = parent(f) {
		if p, ok := r.pos[f]; ok {
			return p
		}
		if f == "" {
			return Pos{Line: 1, Column: 1}
		}
	}
}

// errorf reports a problem with field, unless decoding already reported one
// for it or a parent: a value of the wrong type is one problem, not several.
func (r *reporter) errorf(field, format string, args ...any) {
	for f := field; f != ""; f = parent(f) {
		if r.bad[f] {
			return
		}
	}
	p := r.at(field)
	r.errs = append(r.errs, &Error{File: r.file, Line: p.Line, Column: p.Column, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// errorAt reports a problem at n and marks field as bad.
func (r *reporter) errorAt(n *yaml.Node, field, format string, args ...any) {
	r.bad[field] = true
	r.errs = append(r.errs, &Error{File: r.file, Line: n.Line, Column: n.Column, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// required reports a missing or empty field.
func (r *reporter) required(field string) {
	if r.present(field) {
		r.errorf(field, "must not be empty")
		return
	}
	p := parent(field)
	for f := p; f != ""; f = parent(f) {
		if r.bad[f] {
			return
		}
	}
	r.errorf(p, "missing required field %q", field[len(p):][strings.IndexAny(field[len(p):], ".[")+1:])
}

// parent returns the field path one level up: "a[0].b" → "a[0]" → "a" → "".
func parent(field string) string {
	i := strings.LastIndexAny(field, ".[")
	if i < 0 {
		return ""
	}
	return field[:i]
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// join appends a key to a field path.
func join(path, key string) string {
	if !plainKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// value is a node found under a field path. A zero value (nil n) is an
// absent field.
type value struct {
	n    *yaml.Node
	path string
}

// decoder walks a node tree against the schema.
type decoder struct {
	r *reporter
	// tmpl are the templates' environment lists by name, and defTemplate
	// (written at defAt) the default one, for appEnvironments.
	tmpl        map[string]*yaml.Node
	defTemplate string
	defAt       *yaml.Node
	// rules are the discover rules' fields, and found the apps to expand
	// from them (WithFound).
	rules []fields
	found []Found
}

func resolve(n *yaml.Node) *yaml.Node {
	// An alias points at an anchored node, which is never itself an alias;
	// the bound is only a guard.
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names a node's type for error messages: `list`, `string "x"`.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		switch n.ShortTag() {
		case "!!str":
			return "string " + strconv.Quote(v)
		case "!!int":
			return "integer " + v
		case "!!float":
			return "number " + v
		case "!!bool":
			return "boolean " + v
		case "!!null":
			return "null"
		case "!!timestamp":
			return "timestamp " + v
		}
		return n.ShortTag() + " " + strconv.Quote(v)
	}
	return "an unsupported node"
}

func (d *decoder) typeError(v value, n *yaml.Node, want string) {
	d.r.errorAt(n, v.path, "expected %s, got %s", want, describe(n))
}

// mark records where a value was written and returns its resolved node.
func (d *decoder) mark(v value) *yaml.Node {
	n := resolve(v.n)
	if n != nil {
		d.r.pos[v.path] = Pos{Line: n.Line, Column: n.Column, Path: v.path}
	}
	return n
}

// item decodes a list item that must be a map: unlike a map-valued field,
// an item cannot be left out by writing null.
func (d *decoder) item(v value, known []string) (fields, bool) {
	if n := resolve(v.n); isNull(n) {
		d.mark(v)
		d.typeError(v, n, "a map")
		return fields{path: v.path, m: map[string]value{}}, false
	}
	return d.mapping(v, known)
}

// fields are the values of a map by key.
type fields struct {
	path string
	m    map[string]value
	keys []string // in the order written
}

// get returns the value of key; its n is nil when key is absent.
func (f fields) get(key string) value {
	if v, ok := f.m[key]; ok {
		return v
	}
	return value{path: join(f.path, key)}
}

// has reports whether key was written.
func (f fields) has(key string) bool {
	_, ok := f.m[key]
	return ok
}

// mapping decodes a map whose keys must be among known (any key when known
// is nil). It reports unknown and duplicate keys and resolves merge keys
// (<<); ok is false when v is absent, null or not a map.
func (d *decoder) mapping(v value, known []string) (f fields, ok bool) {
	f = fields{path: v.path, m: map[string]value{}}
	n := d.mark(v)
	if isNull(n) {
		return f, false
	}
	if n.Kind != yaml.MappingNode {
		d.typeError(v, n, "a map")
		return f, false
	}
	d.collect(n, v.path, known, f.m, &f.keys, false, map[*yaml.Node]bool{})
	return f, true
}

func (d *decoder) collect(n *yaml.Node, path string, known []string, fields map[string]value, keys *[]string, merged bool, seen map[*yaml.Node]bool) {
	if seen[n] {
		return
	}
	seen[n] = true
	first := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, val)
			continue
		}
		kr := resolve(k)
		if kr.Kind != yaml.ScalarNode {
			d.r.errorAt(k, path, "map keys must be strings, got %s", describe(kr))
			continue
		}
		name := kr.Value
		fp := join(path, name)
		if prev, dup := first[name]; dup {
			d.r.errorAt(k, fp, "duplicate key %q (first defined at line %d)", name, prev.Line)
			continue
		}
		first[name] = k
		if known != nil && !contains(known, name) {
			d.r.errorAt(k, fp, "unknown field %q%s", name, suggest(name, known))
			continue
		}
		if _, set := fields[name]; set && merged {
			continue // explicit keys, and earlier merges, win
		}
		fields[name] = value{n: val, path: fp}
		*keys = append(*keys, name)
		d.mark(fields[name])
	}
	for _, m := range merges {
		mr := resolve(m)
		var sources []*yaml.Node
		switch mr.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{mr}
		case yaml.SequenceNode:
			for _, s := range mr.Content {
				sources = append(sources, resolve(s))
			}
		default:
			sources = []*yaml.Node{mr}
		}
		for _, s := range sources {
			if s.Kind != yaml.MappingNode {
				d.r.errorAt(m, path, "merge key << expects a map or a list of maps, got %s", describe(s))
				continue
			}
			d.collect(s, path, known, fields, keys, true, seen)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns ` (did you mean "x"?)` for the known key closest to name,
// when it is at most two edits away.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(name), strings.ToLower(k)); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // keys that long are never a typo of a schema key
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// list decodes a sequence into its items; nil when absent, null or not a
// list.
func (d *decoder) list(v value) []value {
	n := d.mark(v)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.typeError(v, n, "a list")
		return nil
	}
	items := make([]value, len(n.Content))
	for i, c := range n.Content {
		items[i] = value{n: c, path: index(v.path, i)}
	}
	return items
}

// str decodes a string. Numbers, booleans and timestamps are taken as
// written, so `user: 65532` and `VERSION: 1.2` mean what they say.
func (d *decoder) str(v value) string {
	n := d.mark(v)
	if isNull(n) {
		return ""
	}
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
			return n.Value
		}
	}
	d.typeError(v, n, "a string")
	return ""
}

func (d *decoder) strings(v value) []string {
	items := d.list(v)
	if items == nil {
		return nil
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = d.str(it)
	}
	return out
}

// stringMap decodes a map of strings with any keys; nil when empty.
func (d *decoder) stringMap(v value) map[string]string {
	f, ok := d.mapping(v, nil)
	if !ok || len(f.keys) == 0 {
		return nil
	}
	out := make(map[string]string, len(f.keys))
	for _, k := range f.keys {
		out[k] = d.str(f.get(k))
	}
	return out
}

func (d *decoder) boolean(v value) bool {
	n := d.mark(v)
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.typeError(v, n, "a boolean (true or false)")
		return false
	}
	return strings.EqualFold(n.Value, "true")
}

// integer decodes an int; set is false when absent or null.
func (d *decoder) integer(v value) (i int, set bool) {
	n := d.mark(v)
	if isNull(n) {
		return 0, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.typeError(v, n, "an integer")
		return 0, true
	}
	if err := n.Decode(&i); err != nil {
		d.r.errorAt(n, v.path, "integer %s out of range", n.Value)
	}
	return i, true
}

// pos returns the position of a struct-valued field.
func (d *decoder) pos(v value) Pos {
	if p, ok := d.r.pos[v.path]; ok {
		return p
	}
	return Pos{Path: v.path}
}
