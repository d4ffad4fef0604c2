package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPlaceholder in a discovery pattern stands for the names of the
// template's environments: an app gets the environments whose directory
// exists, in the template's order.
const EnvPlaceholder = "{env}"

// MaxDiscovered is the most apps the discover rules of one conveyor.yaml
// may find: a pattern that matches far more directories than intended
// (a vendored tree, a typo one level too high) is refused rather than
// turned into thousands of pipelines.
const MaxDiscovered = 10000

// ErrTooManyDiscovered wraps the error of discover rules that find more
// than MaxDiscovered apps.
var ErrTooManyDiscovered = errors.New("too many discovered apps")

// Discover is a rule that turns the directories of a regular layout into
// apps: every directory matching Pattern ("apps/{app}/overlays/{env}")
// becomes an app called by its {app} segment, with Template's environments,
// Image and Source, where AppPlaceholder is replaced by the app's name. An
// app written under apps: wins over a discovered one of the same name.
type Discover struct {
	Pos      Pos
	Pattern  string // slash-separated, relative; {app} once as a whole segment, {env} at most once
	Template string // default: Defaults.Template
	Image    string
	Source   Source
}

// Found is one app the discover rules found in a tree.
type Found struct {
	Rule int    // index in Config.Discover
	App  string // the {app} segment
	// Envs are the template's environments whose {env} directory exists,
	// in the template's order; nil when the pattern has no {env}.
	Envs []string
}

var discoverKeys = []string{"pattern", "template", "image", "source"}

// discover decodes the discover rules and keeps their nodes for expand.
func (d *decoder) discover(v value) []Discover {
	var out []Discover
	for _, rv := range d.list(v) {
		var r Discover
		f, ok := d.item(rv, discoverKeys)
		r.Pos = d.pos(rv)
		d.rules = append(d.rules, f)
		if !ok {
			out = append(out, r)
			continue
		}
		r.Pattern = d.str(f.get("pattern"))
		r.Template = d.str(f.get("template"))
		r.Image = d.str(f.get("image"))
		sv := f.get("source")
		r.Source.Branch = DefaultBranch
		if sf, ok := d.mapping(sv, sourceKeys); ok {
			r.Source.Repo = d.str(sf.get("repo"))
			if sf.has("branch") {
				r.Source.Branch = d.str(sf.get("branch"))
			}
			r.Source.Paths = d.strings(sf.get("paths"))
		}
		r.Source.Pos = d.pos(sv)
		out = append(out, r)
	}
	return out
}

// expand decodes found as apps after the written ones: each is an app
// node built from its rule, so templates, defaults and every check apply
// as to a written app, and problems point at the rule. A name an earlier
// app already has is skipped: written apps win, then earlier rules.
func (d *decoder) expand(c *Config, found []Found, settle time.Duration) {
	taken := map[string]bool{}
	for _, a := range c.Apps {
		taken[a.Name] = true
	}
	for _, fd := range found {
		if taken[fd.App] || fd.Rule < 0 || fd.Rule >= len(d.rules) {
			continue
		}
		taken[fd.App] = true
		rf := d.rules[fd.Rule]
		n := d.appNode(rf, fd.App)
		a := d.app(value{n: n, path: join(index("discover", fd.Rule)+".apps", fd.App)}, settle)
		if fd.Envs != nil {
			a.Environments = slices.DeleteFunc(a.Environments, func(e Environment) bool { return !slices.Contains(fd.Envs, e.Name) })
		}
		c.Apps = append(c.Apps, a)
	}
}

// appNode builds the app mapping of a rule for app, placed where the rule
// was written.
func (d *decoder) appNode(rf fields, app string) *yaml.Node {
	at := resolve(rf.get("pattern").n)
	if at == nil {
		at = &yaml.Node{}
	}
	scalar := func(v string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Line: at.Line, Column: at.Column}
	}
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: at.Line, Column: at.Column}
	n.Content = append(n.Content, scalar("name"), scalar(app))
	for _, k := range []string{"template", "image", "source"} {
		if v := resolve(rf.get(k).n); v != nil {
			n.Content = append(n.Content, scalar(k), substitute(v, app))
		}
	}
	return n
}

// validateDiscover checks the rules themselves; the apps they find are
// checked as apps when they are expanded.
func validateDiscover(c *Config, r *reporter) {
	for i := range c.Discover {
		rule := &c.Discover[i]
		p := index("discover", i)
		if rule.Pattern == "" {
			r.required(p + ".pattern")
		} else if msg := checkPattern(rule.Pattern); msg != "" {
			r.errorf(p+".pattern", "%s", msg)
		}
		switch t := rule.templateOr(c.Defaults); {
		case t == "":
			r.errorf(p, "missing required field \"template\" (or set defaults.template): a discovered app takes its environments from a template")
		case c.template(t) == nil && r.present(p+".template"):
			r.errorf(p+".template", "unknown template %q", t)
		case c.template(t) == nil:
			r.errorf("defaults.template", "unknown template %q: %s takes its environments from it", t, p)
		}
		// The checks an app's values get, on a stand-in name: each
		// discovered app is checked again with its own.
		if rule.Image == "" {
			r.required(p + ".image")
		} else if msg := checkImageRepo(strings.ReplaceAll(rule.Image, AppPlaceholder, "app")); msg != "" {
			r.errorf(p+".image", "%s", msg)
		}
		if rule.Source.Repo == "" {
			r.required(p + ".source.repo")
		} else if msg := checkRepo(strings.ReplaceAll(rule.Source.Repo, AppPlaceholder, "app")); msg != "" {
			r.errorf(p+".source.repo", "%s", msg)
		}
	}
}

func (rule *Discover) templateOr(df Defaults) string {
	if rule.Template != "" {
		return rule.Template
	}
	return df.Template
}

func (c *Config) template(name string) *Template {
	for i := range c.Templates {
		if c.Templates[i].Name == name {
			return &c.Templates[i]
		}
	}
	return nil
}

// checkPattern returns a problem with a discovery pattern, or "": it must
// stay inside the repository and hold {app} once, {env} at most once, each
// as a whole segment, and otherwise plain directory names.
func checkPattern(p string) string {
	if path.IsAbs(p) || strings.HasPrefix(p, `\`) || strings.Contains(p, `\`) {
		return fmt.Sprintf("must be a relative, slash-separated path, got %q", p)
	}
	apps, envs := 0, 0
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == AppPlaceholder:
			apps++
		case seg == EnvPlaceholder:
			envs++
		case seg == "" || seg == "." || seg == "..":
			return fmt.Sprintf("must be a clean path with no empty, \".\" or \"..\" segment, got %q", p)
		case strings.ContainsAny(seg, "{}*?["):
			return fmt.Sprintf("segment %q: only {app} and {env}, as whole segments, may stand for names, got %q", seg, p)
		}
	}
	if apps != 1 || envs > 1 {
		return fmt.Sprintf("must hold {app} exactly once and {env} at most once, got %q", p)
	}
	return ""
}

// Discovered walks tree for the apps c's discover rules find: sorted by
// rule, then name, so the same tree always gives the same apps. Only
// directories match (never a symbolic link), and names starting with a
// dot are skipped. Over MaxDiscovered apps it returns Errors wrapping
// ErrTooManyDiscovered at the rule that went over.
func (c *Config) Discovered(tree fs.FS) ([]Found, error) {
	var out []Found
	for i := range c.Discover {
		rule := &c.Discover[i]
		if checkPattern(rule.Pattern) != "" {
			continue // Parse refused it already
		}
		var envs []string
		if t := c.template(rule.templateOr(c.Defaults)); t != nil {
			for _, e := range t.Environments {
				envs = append(envs, e.Name)
			}
		}
		w := &walker{tree: tree, envs: envs, seen: map[string]int{}, limit: MaxDiscovered - len(out)}
		if err := w.walk(".", strings.Split(rule.Pattern, "/"), "", ""); err != nil {
			if errors.Is(err, ErrTooManyDiscovered) {
				return nil, Errors{{File: c.File, Line: rule.Pos.Line, Column: rule.Pos.Column, Field: index("discover", i),
					Msg: fmt.Sprintf("pattern %q finds more than %d apps: narrow it", rule.Pattern, MaxDiscovered), err: err}}
			}
			return nil, fmt.Errorf("discovering apps with %q: %w", rule.Pattern, err)
		}
		slices.Sort(w.order) // {env} before {app} finds them env by env
		for _, name := range w.order {
			out = append(out, Found{Rule: i, App: name, Envs: w.found[name]})
		}
	}
	return out, nil
}

// walker matches one pattern against a tree.
type walker struct {
	tree  fs.FS
	envs  []string // the template's environment names, for {env}
	limit int
	seen  map[string]int
	found map[string][]string
	order []string
}

// walk matches segs below dir; app and env are the values chosen so far.
func (w *walker) walk(dir string, segs []string, app, env string) error {
	if len(segs) == 0 {
		return w.match(app, env)
	}
	seg, rest := segs[0], segs[1:]
	switch seg {
	case AppPlaceholder:
		entries, err := fs.ReadDir(w.tree, dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if err := w.walk(path.Join(dir, e.Name()), rest, e.Name(), env); err != nil {
				return err
			}
		}
	case EnvPlaceholder:
		// Only the template's environments can be promoted: list no more.
		for _, name := range w.envs {
			if w.isDir(path.Join(dir, name)) {
				if err := w.walk(path.Join(dir, name), rest, app, name); err != nil {
					return err
				}
			}
		}
	default:
		if w.isDir(path.Join(dir, seg)) {
			return w.walk(path.Join(dir, seg), rest, app, env)
		}
	}
	return nil
}

func (w *walker) match(app, env string) error {
	if w.found == nil {
		w.found = map[string][]string{}
	}
	if _, ok := w.found[app]; !ok {
		if len(w.order) >= w.limit {
			return ErrTooManyDiscovered
		}
		w.order = append(w.order, app)
		w.found[app] = nil
	}
	if env != "" {
		w.found[app] = append(w.found[app], env)
	}
	return nil
}

// isDir reports whether name is a directory, not following a symbolic
// link where the tree can tell one.
func (w *walker) isDir(name string) bool {
	st, err := fs.Lstat(w.tree, name)
	return err == nil && st.IsDir()
}

// ParseOption configures Parse.
type ParseOption func(*parseOptions)

type parseOptions struct {
	found []Found
}

// WithFound adds the apps the file's discover rules found (see
// Config.Discovered) to those it writes.
func WithFound(found []Found) ParseOption {
	return func(o *parseOptions) { o.found = found }
}

// ParseTree parses conveyor.yaml as read from tree, with the apps its
// discover rules find there, and returns what they found.
func ParseTree(filename string, data []byte, tree fs.FS) (*Config, []Found, error) {
	cfg, err := Parse(filename, data)
	if err != nil || len(cfg.Discover) == 0 {
		return cfg, nil, err
	}
	found, err := cfg.Discovered(tree)
	if err != nil {
		return nil, nil, err
	}
	cfg, err = Parse(filename, data, WithFound(found))
	return cfg, found, err
}
