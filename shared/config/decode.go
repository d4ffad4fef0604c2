package config

import (
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Default values applied by Parse.
const (
	DefaultBranch      = "main"
	DefaultAuthorName  = "Conveyor"
	DefaultAuthorEmail = "conveyor@localhost"
	DefaultDockerfile  = "Dockerfile"
	DefaultContext     = "."
	DefaultTimezone    = "UTC"
	// DefaultSettle proposes at once: a burst is still coalesced when its
	// older promotions are queued behind the newest, and a pipeline that
	// wants one update per burst sets a window.
	DefaultSettle time.Duration = 0
)

// The keys each map accepts, in the order suggestions prefer them.
var (
	configKeys = []string{"version", "gitops", "settle", "defaults", "templates", "discover", "apps"}
	gitopsKeys = []string{"branch", "author"}
	authorKeys = []string{"name", "email"}
	appKeys    = []string{"name", "source", "image", "tags", "build", "template", "environments", "notify"}
	sourceKeys = []string{"repo", "branch", "paths"}
	tagsKeys   = []string{"glob", "semver"}
	buildKeys  = []string{"context", "dockerfile", "args", "base", "files", "entrypoint", "cmd", "env", "user", "workdir", "labels", "expose", "latestOnly", "platforms"}
	fileKeys   = []string{"src", "dst"}
	envKeys    = []string{"name", "path", "paths", "strategy", "image", "helm", "container", "keepTag", "release", "reviewers", "approvals", "mergeMethod", "verify", "freeze", "settle", "platforms", "require", "notify"}
	envImgKeys = []string{"name"}
	helmKeys   = []string{"image", "repository", "digest", "tag"}
	freezeKeys = []string{"cron", "duration", "timezone"}
)

// config decodes the document and applies defaults. Semantic rules are
// checked afterwards by validate.
func (d *decoder) config(root *yaml.Node) *Config {
	v := value{n: root, path: ""}
	c := &Config{}
	f, ok := d.mapping(v, configKeys)
	c.Pos = d.pos(v)
	if !ok {
		if isNull(resolve(root)) {
			d.r.errorAt(root, "", "document is empty: version and apps are required")
		}
		// Not a map: mapping reported it; nothing else can be checked.
		d.r.bad[""] = true
		return c
	}
	if n, set := d.integer(f.get("version")); set {
		c.Version = n
	}
	c.GitOps = d.gitops(f.get("gitops"))
	c.Settle = DefaultSettle
	if f.has("settle") {
		c.Settle = d.duration(f.get("settle"))
	}
	c.Defaults = d.defaults(f.get("defaults"))
	c.Templates = d.templates(f.get("templates"), c.Settle)
	c.Discover = d.discover(f.get("discover"))
	for _, a := range d.list(f.get("apps")) {
		c.Apps = append(c.Apps, d.app(a, c.Settle))
	}
	d.expand(c, d.found, c.Settle)
	return c
}

func (d *decoder) gitops(v value) GitOps {
	g := GitOps{Branch: DefaultBranch, Author: Author{Name: DefaultAuthorName, Email: DefaultAuthorEmail}}
	f, ok := d.mapping(v, gitopsKeys)
	g.Pos = d.pos(v)
	if !ok {
		g.Author.Pos = d.pos(f.get("author"))
		return g
	}
	if f.has("branch") {
		g.Branch = d.str(f.get("branch"))
	}
	av := f.get("author")
	af, ok := d.mapping(av, authorKeys)
	g.Author.Pos = d.pos(av)
	if ok {
		if af.has("name") {
			g.Author.Name = d.str(af.get("name"))
		}
		if af.has("email") {
			g.Author.Email = d.str(af.get("email"))
		}
	}
	return g
}

func (d *decoder) app(v value, settle time.Duration) App {
	var a App
	f, ok := d.item(v, appKeys)
	a.Pos = d.pos(v)
	if !ok {
		return a
	}
	a.Name = d.str(f.get("name"))
	a.Image = d.str(f.get("image"))

	sv := f.get("source")
	a.Source.Branch = DefaultBranch
	if sf, ok := d.mapping(sv, sourceKeys); ok {
		a.Source.Repo = d.str(sf.get("repo"))
		if sf.has("branch") {
			a.Source.Branch = d.str(sf.get("branch"))
		}
		a.Source.Paths = d.strings(sf.get("paths"))
	}
	a.Source.Pos = d.pos(sv)

	tv := f.get("tags")
	if tf, ok := d.mapping(tv, tagsKeys); ok {
		a.Tags.Glob = d.strings(tf.get("glob"))
		a.Tags.Semver = d.str(tf.get("semver"))
	}
	a.Tags.Pos = d.pos(tv)

	a.Build = d.build(f.get("build"))
	if f.has("template") {
		a.Template = d.str(f.get("template"))
	}
	for _, e := range d.list(d.appEnvironments(f, a.Name)) {
		a.Environments = append(a.Environments, d.environment(e, a.Name, settle))
	}
	a.Notify = d.notifyList(f.get("notify"))
	return a
}

func (d *decoder) build(v value) Build {
	var b Build
	f, ok := d.mapping(v, buildKeys)
	b.Pos = d.pos(v)
	if ok {
		b.Context = d.str(f.get("context"))
		b.Dockerfile = d.str(f.get("dockerfile"))
		b.Args = d.stringMap(f.get("args"))
		b.Base = d.str(f.get("base"))
		for _, fv := range d.list(f.get("files")) {
			var file File
			if ff, ok := d.item(fv, fileKeys); ok {
				file.Src = d.str(ff.get("src"))
				file.Dst = d.str(ff.get("dst"))
			}
			file.Pos = d.pos(fv)
			b.Files = append(b.Files, file)
		}
		b.Entrypoint = d.strings(f.get("entrypoint"))
		b.Cmd = d.strings(f.get("cmd"))
		b.Env = d.stringMap(f.get("env"))
		b.User = d.str(f.get("user"))
		b.Workdir = d.str(f.get("workdir"))
		b.Labels = d.stringMap(f.get("labels"))
		b.Expose = d.strings(f.get("expose"))
		b.LatestOnly = d.boolean(f.get("latestOnly"))
		b.Platforms = d.strings(f.get("platforms"))
	}
	if b.Context == "" && !d.r.present(join(v.path, "context")) {
		b.Context = DefaultContext
	}
	if b.Dockerfile == "" && b.Base == "" && !d.r.present(join(v.path, "dockerfile")) && !d.r.present(join(v.path, "base")) {
		b.Dockerfile = DefaultDockerfile
	}
	return b
}

func (d *decoder) environment(v value, app string, settle time.Duration) Environment {
	e := Environment{Release: ReleaseManual, MergeMethod: MergeMerge, Settle: settle}
	f, ok := d.item(v, envKeys)
	e.Pos = d.pos(v)
	if !ok {
		return e
	}
	e.Name = d.str(f.get("name"))
	e.Path = d.str(f.get("path"))
	e.Paths = d.strings(f.get("paths"))
	e.Strategy = Strategy(d.str(f.get("strategy")))
	iv := f.get("image")
	if imf, ok := d.mapping(iv, envImgKeys); ok {
		e.Image.Name = d.str(imf.get("name"))
	}
	e.Image.Pos = d.pos(iv)

	hv := f.get("helm")
	if hf, ok := d.mapping(hv, helmKeys); ok {
		e.Helm.Image = d.str(hf.get("image"))
		e.Helm.Repository = d.str(hf.get("repository"))
		e.Helm.Digest = d.str(hf.get("digest"))
		e.Helm.Tag = d.str(hf.get("tag"))
	}
	e.Helm.Pos = d.pos(hv)

	e.Container = d.str(f.get("container"))
	if e.Container == "" && (e.Strategy == "" || e.Strategy == StrategyRaw) {
		e.Container = app
	}
	e.KeepTag = d.boolean(f.get("keepTag"))
	if f.has("release") {
		e.Release = Release(d.str(f.get("release")))
	}
	e.Reviewers = d.strings(f.get("reviewers"))
	if n, set := d.integer(f.get("approvals")); set {
		e.Approvals = n
	} else if e.Release == ReleaseManual {
		e.Approvals = 1
	}
	if f.has("mergeMethod") {
		e.MergeMethod = MergeMethod(d.str(f.get("mergeMethod")))
	}
	e.Verify = d.boolean(f.get("verify"))
	for _, fv := range d.list(f.get("freeze")) {
		e.Freeze = append(e.Freeze, d.freeze(fv))
	}
	if f.has("settle") {
		e.Settle = d.duration(f.get("settle"))
	}
	e.Platforms = d.strings(f.get("platforms"))
	e.Require = d.require(f.get("require"))
	e.Notify = d.notifyList(f.get("notify"))
	return e
}

func (d *decoder) freeze(v value) Freeze {
	fr := Freeze{Timezone: DefaultTimezone}
	f, ok := d.item(v, freezeKeys)
	fr.Pos = d.pos(v)
	if !ok {
		return fr
	}
	fr.Cron = d.str(f.get("cron"))
	fr.Duration = d.duration(f.get("duration"))
	if f.has("timezone") {
		fr.Timezone = d.str(f.get("timezone"))
	}
	return fr
}

// duration decodes a Go duration string, reporting one that does not parse
// at its line; absent or empty is 0.
func (d *decoder) duration(v value) time.Duration {
	if v.n == nil {
		return 0
	}
	s := d.str(v)
	if s == "" {
		return 0
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.r.errorAt(resolve(v.n), v.path, "invalid duration %s: use a Go duration such as \"64h\" or \"90m\"", strconv.Quote(s))
	}
	return dur
}
