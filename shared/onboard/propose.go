package onboard

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
)

// ErrNoImages means the repository sets no image Scan can find.
var ErrNoImages = errors.New("no Kustomize overlay, Helm values file or Kubernetes manifest sets an image here")

// ErrNoReviewers means environments after the first would be released
// manually but no reviewers were given to guard them.
var ErrNoReviewers = errors.New("reviewers needed")

// Proposal is a conveyor.yaml in the making.
type Proposal struct {
	Apps []App
}

// App is a proposed app: the image repository its environments set.
type App struct {
	Name   string
	Image  string
	Source string
	Envs   []Env
}

// Env is a proposed environment.
type Env struct {
	Name      string
	Paths     []string
	Strategy  config.Strategy
	Container string // raw only, when the container is not named like the app
	Helm      config.Helm
	Release   config.Release
	Reviewers []string
	// Pins are the references the manifests hold today, for comments.
	Pins []string
}

// Options shape a proposal.
type Options struct {
	// Source is prepended to each app's name to form its source
	// repository ("acme" gives "acme/web"; "https://github.com/acme" and
	// "/src" work too). Empty gives the placeholder "OWNER/<app>".
	Source string
	// Reviewers guard every environment after an app's first, which are
	// released manually; the first is released automatically.
	Reviewers []string
}

// Propose groups findings into apps by image repository and orders each
// app's environments.
func Propose(found []Found, o Options) (*Proposal, error) {
	if len(found) == 0 {
		return nil, ErrNoImages
	}
	sortFound(found)
	byImage := map[string]*App{}
	var order []string
	for _, f := range found {
		a := byImage[f.Image]
		if a == nil {
			a = &App{Image: f.Image}
			byImage[f.Image] = a
			order = append(order, f.Image)
		}
		a.add(f)
	}
	p := &Proposal{}
	names := map[string]int{}
	for _, img := range order {
		a := byImage[img]
		a.Name = unique(names, dnsLabel(path.Base(img), "app"))
		a.Source = sourceOf(o.Source, a.Name)
		sortEnvs(a.Envs)
		for i := range a.Envs {
			e := &a.Envs[i]
			if e.Strategy == config.StrategyRaw && e.Container == a.Name {
				e.Container = ""
			}
			e.Release = config.ReleaseAuto
			if i > 0 {
				e.Release, e.Reviewers = config.ReleaseManual, o.Reviewers
			}
		}
		p.Apps = append(p.Apps, *a)
	}
	sort.SliceStable(p.Apps, func(i, j int) bool { return p.Apps[i].Name < p.Apps[j].Name })
	if len(o.Reviewers) == 0 {
		if manual := p.manual(); len(manual) > 0 {
			return p, fmt.Errorf("%w: %s would be released manually with nobody named to approve", ErrNoReviewers, strings.Join(manual, ", "))
		}
	}
	return p, nil
}

// add files a finding under its environment: a second place of the same
// environment and kind joins its paths, another kind gets its own name.
func (a *App) add(f Found) {
	pin := f.Ref
	for i := range a.Envs {
		e := &a.Envs[i]
		if e.Name != f.Env {
			continue
		}
		if e.Strategy == f.Strategy && e.Container == f.Container && e.Helm == f.Helm && !contains(e.Paths, f.Path) {
			e.Paths = append(e.Paths, f.Path)
			e.Pins = append(e.Pins, pin)
			return
		}
		f.Env = uniqueEnv(a.Envs, f.Env)
		break
	}
	a.Envs = append(a.Envs, Env{Name: f.Env, Paths: []string{f.Path}, Strategy: f.Strategy, Container: f.Container, Helm: f.Helm, Pins: []string{pin}})
}

func (p *Proposal) manual() []string {
	var out []string
	for _, a := range p.Apps {
		for _, e := range a.Envs {
			if e.Release == config.ReleaseManual {
				out = append(out, a.Name+"/"+e.Name)
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func uniqueEnv(envs []Env, name string) string {
	for n := 2; ; n++ {
		c := fmt.Sprintf("%s-%d", name, n)
		taken := false
		for _, e := range envs {
			taken = taken || e.Name == c
		}
		if !taken {
			return c
		}
	}
}

func unique(seen map[string]int, name string) string {
	seen[name]++
	if n := seen[name]; n > 1 {
		return fmt.Sprintf("%s-%d", name, n)
	}
	return name
}

func sourceOf(prefix, app string) string {
	if prefix == "" {
		return "OWNER/" + app
	}
	return strings.TrimSuffix(prefix, "/") + "/" + app
}

// envRanks orders well-known environment names; the first word of a name
// counts, so prod-eu ranks as prod.
var envRanks = map[string]int{
	"dev": 0, "development": 0, "local": 0, "sandbox": 0,
	"test": 1, "testing": 1, "qa": 1, "int": 1, "integration": 1,
	"staging": 2, "stage": 2, "stg": 2, "preprod": 2, "uat": 2,
	"prod": 3, "production": 3, "prd": 3, "live": 3,
}

// unranked places environments with other names after prod.
const unranked = 4

func envRank(name string) int {
	first := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	if len(first) > 0 {
		if r, ok := envRanks[first[0]]; ok {
			return r
		}
	}
	return unranked
}

// sortEnvs orders environments dev < test < staging < prod, then the
// others alphabetically.
func sortEnvs(envs []Env) {
	sort.SliceStable(envs, func(i, j int) bool {
		ri, rj := envRank(envs[i].Name), envRank(envs[j].Name)
		if ri != rj {
			return ri < rj
		}
		return envs[i].Name < envs[j].Name
	})
}

// envWord returns the deepest component of dir that names a well-known
// environment, or "".
func envWord(dir string) string {
	parts := strings.Split(dir, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if envRank(parts[i]) != unranked {
			return parts[i]
		}
	}
	return ""
}

// envName names the environment of a place: hint when given (a values
// file's suffix), else the deepest well-known environment in dir, else
// dir's own name.
func envName(dir, hint string) string {
	switch {
	case hint != "":
		return dnsLabel(hint, "default")
	case envWord(dir) != "":
		return dnsLabel(envWord(dir), "default")
	case dir == "." || dir == "":
		return "default"
	}
	return dnsLabel(path.Base(dir), "default")
}

var notLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// dnsLabel turns s into a DNS label, or fallback when nothing is left.
func dnsLabel(s, fallback string) string {
	s = notLabel.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.Trim(s, "-")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-")
	}
	if s == "" {
		return fallback
	}
	return s
}
