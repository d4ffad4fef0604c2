package config

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/robfig/cron/v3"
)

// Validate checks the rules Parse checks after decoding, on a Config that
// may have been built or changed in code. Defaults are not applied: a field
// Parse would default must be set. Positions come from the structs' Pos
// fields. It returns nil or Errors.
func (c *Config) Validate() error {
	r := newReporter(c.File)
	for _, p := range c.positions() {
		if p.Line > 0 {
			r.pos[p.Path] = p
		}
	}
	validate(c, r)
	if len(r.errs) == 0 {
		return nil
	}
	return r.errs.sorted()
}

// positions lists the Pos of every struct in c.
func (c *Config) positions() []Pos {
	ps := []Pos{c.Pos, c.GitOps.Pos, c.GitOps.Author.Pos}
	for _, a := range c.Apps {
		ps = append(ps, a.Pos, a.Source.Pos, a.Tags.Pos, a.Build.Pos)
		for _, f := range a.Build.Files {
			ps = append(ps, f.Pos)
		}
		for _, n := range a.Notify {
			ps = append(ps, n.Pos)
		}
		for _, e := range a.Environments {
			ps = append(ps, e.Pos, e.Helm.Pos)
			for _, n := range e.Notify {
				ps = append(ps, n.Pos)
			}
			for _, f := range e.Freeze {
				ps = append(ps, f.Pos)
			}
		}
	}
	return ps
}

func validate(c *Config, r *reporter) {
	if r.bad[""] {
		return
	}
	switch {
	case c.Version == 1:
	case c.Version == 0 && !r.present("version"):
		r.required("version")
	default:
		r.errorf("version", "unsupported version %d: must be 1", c.Version)
	}
	if msg := checkBranch(c.GitOps.Branch); msg != "" {
		r.errorf("gitops.branch", "%s", msg)
	}
	if c.GitOps.Author.Name == "" {
		r.required("gitops.author.name")
	}
	if msg := checkEmail(c.GitOps.Author.Email); msg != "" {
		r.errorf("gitops.author.email", "%s", msg)
	}
	checkSettle(c.Settle, "settle", r)
	validateDiscover(c, r)
	if len(c.Apps) == 0 && len(c.Discover) == 0 {
		if r.present("apps") {
			r.errorf("apps", "at least one app is required")
		} else {
			r.required("apps")
		}
	}
	names := map[string]string{} // app name → field of its first use
	for i := range c.Apps {
		a := &c.Apps[i]
		p := a.Pos.Path
		if p == "" {
			p = index("apps", i)
		}
		if first, dup := names[a.Name]; dup && a.Name != "" {
			r.errorf(p+".name", "duplicate app name %q (first used at line %d)", a.Name, r.at(first).Line)
		} else {
			names[a.Name] = p + ".name"
		}
		validateApp(a, p, r)
	}
}

func validateApp(a *App, p string, r *reporter) {
	checkName(r, p+".name", a.Name)
	if a.Source.Repo == "" && !r.present(p+".source") {
		r.required(p + ".source")
	} else if a.Source.Repo == "" {
		r.required(p + ".source.repo")
	} else if msg := checkRepo(a.Source.Repo); msg != "" {
		r.errorf(p+".source.repo", "%s", msg)
	}
	if msg := checkBranch(a.Source.Branch); msg != "" {
		r.errorf(p+".source.branch", "%s", msg)
	}
	for i, g := range a.Source.Paths {
		if msg := checkPathGlob(g); msg != "" {
			r.errorf(index(p+".source.paths", i), "%s", msg)
		}
	}
	if a.Image == "" {
		r.required(p + ".image")
	} else if msg := checkImageRepo(a.Image); msg != "" {
		r.errorf(p+".image", "%s", msg)
	}
	for i, g := range a.Tags.Glob {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			r.errorf(index(p+".tags.glob", i), "invalid glob %q", g)
		}
	}
	if a.Tags.Semver != "" {
		if _, err := semver.NewConstraint(a.Tags.Semver); err != nil {
			if strings.Contains(err.Error(), a.Tags.Semver) {
				r.errorf(p+".tags.semver", "invalid semver constraint: %v", err)
			} else {
				r.errorf(p+".tags.semver", "invalid semver constraint %q: %v", a.Tags.Semver, err)
			}
		}
	}
	validateBuild(&a.Build, p+".build", r)
	validateNotify(a.Notify, p+".notify", r)
	if len(a.Environments) == 0 {
		if r.present(p + ".environments") {
			r.errorf(p+".environments", "at least one environment is required")
		} else {
			r.required(p + ".environments")
		}
	}
	names := map[string]string{}
	for i := range a.Environments {
		e := &a.Environments[i]
		ep := index(p+".environments", i)
		if first, dup := names[e.Name]; dup && e.Name != "" {
			r.errorf(ep+".name", "duplicate environment name %q (first used at line %d)", e.Name, r.at(first).Line)
		} else {
			names[e.Name] = ep + ".name"
		}
		validateEnv(e, ep, a.Name, r)
	}
}

func validateBuild(b *Build, p string, r *reporter) {
	if b.Context == "" {
		r.required(p + ".context")
	} else if msg := checkRelPath(b.Context); msg != "" {
		r.errorf(p+".context", "%s", msg)
	}
	switch {
	case b.Dockerfile != "" && b.Base != "":
		r.errorf(p+".base", "cannot be combined with dockerfile: choose a Dockerfile or the Dockerfile-less form")
	case b.Dockerfile == "" && b.Base == "":
		r.errorf(p, "set dockerfile or base")
	}
	if b.Dockerfile != "" {
		if msg := checkRelPath(b.Dockerfile); msg != "" {
			r.errorf(p+".dockerfile", "%s", msg)
		}
	}
	if b.Base != "" && !strings.EqualFold(b.Base, "scratch") {
		if msg := checkImageRef(b.Base); msg != "" {
			r.errorf(p+".base", "%s", msg)
		}
	}
	if b.Base == "" {
		// The Dockerfile-less settings would be silently ignored.
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"files", len(b.Files) > 0}, {"entrypoint", len(b.Entrypoint) > 0}, {"cmd", len(b.Cmd) > 0},
			{"env", len(b.Env) > 0}, {"user", b.User != ""}, {"workdir", b.Workdir != ""},
			{"labels", len(b.Labels) > 0}, {"expose", len(b.Expose) > 0},
		} {
			if f.set {
				r.errorf(p+"."+f.name, "only allowed with base (the Dockerfile-less form); a Dockerfile sets this itself")
			}
		}
	} else if len(b.Args) > 0 {
		r.errorf(p+".args", "only allowed with dockerfile")
	}
	for _, k := range sortedKeys(b.Args) {
		if !envName.MatchString(k) {
			r.errorf(join(p+".args", k), "invalid build arg name %q", k)
		}
	}
	for _, k := range sortedKeys(b.Env) {
		if !envName.MatchString(k) {
			r.errorf(join(p+".env", k), "invalid environment variable name %q", k)
		}
	}
	for _, k := range sortedKeys(b.Labels) {
		if k == "" {
			r.errorf(p+".labels", "label keys must not be empty")
		}
	}
	for i, f := range b.Files {
		fp := index(p+".files", i)
		if f.Src == "" {
			r.required(fp + ".src")
		} else if msg := checkRelPath(f.Src); msg != "" {
			r.errorf(fp+".src", "%s", msg)
		}
		if f.Dst == "" {
			r.required(fp + ".dst")
		} else if !path.IsAbs(f.Dst) {
			r.errorf(fp+".dst", "must be an absolute path in the image, got %q", f.Dst)
		}
	}
	if b.Workdir != "" && !path.IsAbs(b.Workdir) {
		r.errorf(p+".workdir", "must be an absolute path, got %q", b.Workdir)
	}
	if b.User != "" && strings.ContainsAny(b.User, " \t\r\n") {
		r.errorf(p+".user", "must not contain spaces, got %q", b.User)
	}
	for i, e := range b.Expose {
		if msg := checkPort(e); msg != "" {
			r.errorf(index(p+".expose", i), "%s", msg)
		}
	}
	validatePlatforms(b.Platforms, p+".platforms", r)
}

func validateEnv(e *Environment, p, app string, r *reporter) {
	checkName(r, p+".name", e.Name)
	validateEnvPaths(e, p, r)
	validateNotify(e.Notify, p+".notify", r)
	if e.Image.Name != "" || r.present(p+".image") {
		if e.Image.Name == "" {
			r.required(p + ".image.name")
		} else if msg := checkImageRepo(e.Image.Name); msg != "" {
			r.errorf(p+".image.name", "%s", msg)
		}
	}
	switch e.Strategy {
	case "", StrategyKustomize, StrategyHelm, StrategyRaw, StrategyMarker:
	default:
		r.errorf(p+".strategy", "must be one of kustomize, helm, raw or marker, got %q", e.Strategy)
	}
	helmSet := !e.Helm.IsZero() || r.present(p+".helm")
	hp := p + ".helm"
	switch {
	case e.Strategy != StrategyHelm && helmSet:
		r.errorf(hp, "only allowed with strategy \"helm\"")
	case e.Strategy == StrategyHelm && !helmSet:
		r.required(hp)
	case e.Strategy == StrategyHelm:
		h := e.Helm
		switch {
		case h.Image != "" && (h.Repository != "" || h.Digest != "" || h.Tag != ""):
			r.errorf(hp+".image", "cannot be combined with repository, digest or tag")
		case h.Image == "" && h.Repository == "":
			r.errorf(hp, "set image, or repository with digest and/or tag")
		case h.Image == "" && h.Digest == "" && h.Tag == "":
			r.errorf(hp+".repository", "needs digest and/or tag as well")
		}
		for _, f := range []struct{ name, v string }{{"image", h.Image}, {"repository", h.Repository}, {"digest", h.Digest}, {"tag", h.Tag}} {
			if f.v != "" && !yamlPath.MatchString(f.v) {
				r.errorf(hp+"."+f.name, "must be a dotted YAML path such as \"image.tag\", got %q", f.v)
			}
		}
		checkHelmOverlap(h, hp, r)
	}
	// A container defaulted from a bad app name is reported with the name.
	if e.Container != "" && e.Container != app && !dnsLabel.MatchString(e.Container) {
		r.errorf(p+".container", "must be a DNS label (lowercase letters, digits and '-', at most 63), got %q", e.Container)
	}
	switch e.Release {
	case ReleaseAuto, ReleaseManual:
	default:
		r.errorf(p+".release", "must be \"auto\" or \"manual\", got %q", e.Release)
	}
	seen := map[string]bool{}
	for i, rv := range e.Reviewers {
		switch {
		case !reviewer.MatchString(rv):
			r.errorf(index(p+".reviewers", i), "must be a GitHub user or an \"org/team\" slug, got %q", rv)
		case seen[strings.ToLower(rv)]:
			r.errorf(index(p+".reviewers", i), "duplicate reviewer %q", rv)
		}
		seen[strings.ToLower(rv)] = true
	}
	if e.Release == ReleaseAuto && len(e.Reviewers) > 0 {
		r.errorf(p+".reviewers", "only allowed with release \"manual\"")
	}
	checkGate(e, p, r)
	switch {
	case e.Approvals < 0:
		r.errorf(p+".approvals", "must be 0 or more, got %d", e.Approvals)
	case e.Release == ReleaseAuto && e.Approvals > 0:
		r.errorf(p+".approvals", "only allowed with release \"manual\"")
	case len(e.Reviewers) > 0 && e.Approvals > len(e.Reviewers):
		r.errorf(p+".approvals", "%d approvals required but only %d reviewers listed", e.Approvals, len(e.Reviewers))
	}
	switch e.MergeMethod {
	case MergeMerge, MergeSquash, MergeRebase:
	default:
		r.errorf(p+".mergeMethod", "must be \"merge\", \"squash\" or \"rebase\", got %q", e.MergeMethod)
	}
	for i := range e.Freeze {
		validateFreeze(&e.Freeze[i], index(p+".freeze", i), r)
	}
	if r.present(p + ".settle") {
		checkSettle(e.Settle, p+".settle", r)
	}
	validatePlatforms(e.Platforms, p+".platforms", r)
}

// checkSettle refuses a negative settle window; a window longer than a
// day is refused too, as a typo more likely than a wish (a promotion
// would wait that long).
func checkSettle(d time.Duration, field string, r *reporter) {
	switch {
	case d < 0:
		r.errorf(field, "must be 0 or more, got %s", d)
	case d > MaxSettle:
		r.errorf(field, "must be at most %s, got %s", MaxSettle, d)
	}
}

// MaxSettle is the longest settle window conveyor.yaml accepts.
const MaxSettle = 24 * time.Hour

func validateFreeze(f *Freeze, p string, r *reporter) {
	if f.Cron == "" {
		r.required(p + ".cron")
	} else if _, err := parseCron(f.Cron); err != nil {
		r.errorf(p+".cron", "%v", err)
	}
	switch {
	case f.Duration == 0 && !r.present(p+".duration"):
		r.required(p + ".duration")
	case f.Duration <= 0:
		r.errorf(p+".duration", "must be greater than 0, got %s", f.Duration)
	}
	if _, err := loadLocation(f.Timezone); err != nil {
		r.errorf(p+".timezone", "%v", err)
	}
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// parseCron parses a standard 5-field cron expression. Descriptors such as
// @daily and the CRON_TZ= prefix are refused: timezone says where.
func parseCron(spec string) (cron.Schedule, error) {
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("invalid cron expression %q: set timezone instead of a TZ= prefix", spec)
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression %q: %v (want minute hour day-of-month month day-of-week)", spec, err)
	}
	return s, nil
}

func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		// Local depends on the machine that evaluates the window.
		return nil, fmt.Errorf("must be an IANA time zone name such as \"Europe/Paris\" or \"UTC\", got %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as \"Europe/Paris\"", name)
	}
	return loc, nil
}

func checkName(r *reporter, field, name string) {
	switch {
	case name == "":
		r.required(field)
	case !dnsLabel.MatchString(name):
		r.errorf(field, "must be a DNS label (lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit), got %s", strconv.Quote(name))
	}
}

// checkGate refuses a manual release nobody in particular guards: with no
// reviewers any approval of the pull request would count, and manual is
// the default, so an environment that says nothing would be open to all.
func checkGate(e *Environment, p string, r *reporter) {
	if e.Release != ReleaseManual || len(e.Reviewers) > 0 {
		return
	}
	field, how := p, "manually (the default)"
	switch {
	case r.present(p + ".reviewers"):
		field, how = p+".reviewers", "manually"
	case r.present(p + ".release"):
		field, how = p+".release", "manually"
	}
	r.errorf(field, "environment %q is released %s but lists no reviewers, so anyone who can approve a pull request could release it: "+
		"add reviewers: [user or org/team], or set release: auto", e.Name, how)
}

// checkHelmOverlap refuses Helm paths that cannot all be written: one path
// given for two values, or one inside another (a value cannot be both a
// string and a mapping). Everything else can render: a tag path without a
// digest path gets "tag@sha256:…", which a "repository:tag" template turns
// into a pinned reference.
func checkHelmOverlap(h Helm, hp string, r *reporter) {
	paths := []struct{ name, v string }{{"repository", h.Repository}, {"digest", h.Digest}, {"tag", h.Tag}}
	for j := range paths {
		for i := 0; i < j; i++ {
			a, b := paths[i], paths[j]
			switch {
			case a.v == "" || b.v == "":
			case a.v == b.v:
				r.errorf(hp+"."+b.name, "%q is also helm.%s: one value cannot hold both", b.v, a.name)
			case strings.HasPrefix(b.v, a.v+"."), strings.HasPrefix(a.v, b.v+"."):
				r.errorf(hp+"."+b.name, "%q and helm.%s %q overlap: a value cannot be both a string and a map", b.v, a.name, a.v)
			}
		}
	}
}

// validateEnvPaths checks path or paths: one of them, each inside the
// repository, none twice.
func validateEnvPaths(e *Environment, p string, r *reporter) {
	switch {
	case e.Path != "" && (len(e.Paths) > 0 || r.present(p+".paths")):
		r.errorf(p+".paths", "cannot be combined with path: list every path under paths")
		return
	case e.Path == "" && len(e.Paths) == 0 && r.present(p+".paths"):
		r.errorf(p+".paths", "must list at least one file or directory")
		return
	case e.Path == "" && len(e.Paths) == 0:
		r.required(p + ".path")
		return
	case e.Path != "":
		if msg := checkRelPath(e.Path); msg != "" {
			r.errorf(p+".path", "%s", msg)
		}
		return
	}
	seen := map[string]bool{}
	for i, q := range e.Paths {
		switch msg := checkRelPath(q); {
		case msg != "":
			r.errorf(index(p+".paths", i), "%s", msg)
		case seen[path.Clean(q)]:
			r.errorf(index(p+".paths", i), "%q is listed twice", q)
		}
		seen[path.Clean(q)] = true
	}
}
