package config

import (
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// AppPlaceholder in a template's values is replaced by each app's name, so
// one chain serves every app of a regular layout ("apps/{app}/overlays/dev").
const AppPlaceholder = "{app}"

// Template is a named chain of environments apps reuse: an app that names
// it gets its environments, each overridden key by key by the app's own
// environment of the same name; the app's other environments follow.
type Template struct {
	Pos          Pos
	Name         string
	Environments []Environment // as written, before AppPlaceholder is replaced
}

// Defaults apply to every app that does not say otherwise.
type Defaults struct {
	Pos Pos
	// Template is the template of apps that name none and list no
	// environments of their own.
	Template string
}

var (
	templateKeys = []string{"name", "environments"}
	defaultsKeys = []string{"template"}
)

// templates reads the templates: their nodes for expansion, and their
// decoded form for Config.Templates. Their environments are decoded with
// a reporter of their own: a problem in one is reported where an app uses
// it, with the app's field path, once.
func (d *decoder) templates(v value, settle time.Duration) []Template {
	var out []Template
	d.tmpl = map[string]*yaml.Node{}
	for _, tv := range d.list(v) {
		var t Template
		f, ok := d.item(tv, templateKeys)
		t.Pos = d.pos(tv)
		if !ok {
			out = append(out, t)
			continue
		}
		t.Name = d.str(f.get("name"))
		ev := f.get("environments")
		if n := resolve(ev.n); n != nil && n.Kind == yaml.SequenceNode {
			if _, dup := d.tmpl[t.Name]; dup {
				d.r.errorAt(resolve(f.get("name").n), join(tv.path, "name"), "duplicate template name %q", t.Name)
			}
			d.tmpl[t.Name] = n
		} else {
			d.list(ev) // reports a missing or non-list value
			if ev.n == nil {
				d.r.required(join(tv.path, "environments"))
			}
		}
		quiet := &decoder{r: newReporter(d.r.file)}
		for _, e := range quiet.list(ev) {
			t.Environments = append(t.Environments, quiet.environment(e, "", settle))
		}
		out = append(out, t)
	}
	return out
}

// appEnvironments returns the environments node of an app: its own list,
// or the template it names (or the default one) merged with it.
func (d *decoder) appEnvironments(f fields, app string) value {
	own := f.get("environments")
	name, at := "", (*yaml.Node)(nil)
	switch {
	case f.has("template"):
		tv := f.get("template")
		name, at = d.str(tv), resolve(tv.n)
	case own.n == nil && d.defTemplate != "":
		name, at = d.defTemplate, d.defAt
	}
	if name == "" {
		return own
	}
	tmpl, ok := d.tmpl[name]
	if !ok {
		d.r.errorAt(at, join(f.path, "template"), "unknown template %q: define it under templates:%s", name, known(d.tmpl))
		return own
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: at.Line, Column: at.Column}
	overrides := map[string]*yaml.Node{}
	var order []*yaml.Node
	if n := resolve(own.n); n != nil && n.Kind == yaml.SequenceNode {
		for _, e := range n.Content {
			if k := envNameOf(e); k != "" {
				overrides[k] = resolve(e)
			}
			order = append(order, e)
		}
	}
	used := map[string]bool{}
	for _, te := range tmpl.Content {
		env := substitute(resolve(te), app)
		if k := envNameOf(env); overrides[k] != nil {
			env = overlay(env, overrides[k])
			used[k] = true
		}
		seq.Content = append(seq.Content, env)
	}
	for _, e := range order {
		if !used[envNameOf(e)] {
			seq.Content = append(seq.Content, e)
		}
	}
	return value{n: seq, path: own.path}
}

func known(m map[string]*yaml.Node) string {
	if len(m) == 0 {
		return ""
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return " (defined: " + strings.Join(names, ", ") + ")"
}

// envNameOf is the name: of an environment mapping node, or "".
func envNameOf(n *yaml.Node) string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" {
			return resolve(n.Content[i+1]).Value
		}
	}
	return ""
}

// substitute copies n with AppPlaceholder replaced by app in every string
// scalar; nodes without one are shared, not copied.
func substitute(n *yaml.Node, app string) *yaml.Node {
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, AppPlaceholder) {
			return n
		}
		c := *n
		c.Value = strings.ReplaceAll(n.Value, AppPlaceholder, app)
		return &c
	case yaml.MappingNode, yaml.SequenceNode:
		c := *n
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, child := range n.Content {
			c.Content[i] = substitute(child, app)
		}
		return &c
	}
	return n
}

// overlay returns base with every key of over set to over's value.
func overlay(base, over *yaml.Node) *yaml.Node {
	if base.Kind != yaml.MappingNode || over.Kind != yaml.MappingNode {
		return over
	}
	c := *base
	c.Content = append([]*yaml.Node(nil), base.Content...)
	for i := 0; i+1 < len(over.Content); i += 2 {
		k, v := over.Content[i], over.Content[i+1]
		replaced := false
		for j := 0; j+1 < len(c.Content); j += 2 {
			if c.Content[j].Value == k.Value {
				c.Content[j+1] = v
				replaced = true
			}
		}
		if !replaced {
			c.Content = append(c.Content, k, v)
		}
	}
	return &c
}

// defaults reads the defaults block.
func (d *decoder) defaults(v value) Defaults {
	var df Defaults
	f, ok := d.mapping(v, defaultsKeys)
	df.Pos = d.pos(v)
	if ok && f.has("template") {
		tv := f.get("template")
		df.Template = d.str(tv)
		d.defTemplate, d.defAt = df.Template, resolve(tv.n)
	}
	return df
}
