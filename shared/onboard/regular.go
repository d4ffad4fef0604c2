package onboard

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/google/go-cmp/cmp"
)

// AppPlaceholder stands for each app's name in a proposed discover rule
// and its template.
const AppPlaceholder = "{app}"

// templateName names the environment chain of a proposed discover rule.
const templateName = "standard"

// Rule is a discover rule proposed for apps laid out alike: one pattern
// whose directories are the apps, one environment chain for all of them.
type Rule struct {
	Pattern string // "apps/{app}/overlays/{env}"
	Image   string // "ghcr.io/acme/{app}"
	Source  string // "acme/{app}"
	// Envs is the chain, in promotion order, each path holding {app}.
	Envs []Env
	// Apps are the names the rule stands for today.
	Apps []string
}

// Regular returns the discover rule that stands for p's apps when they
// follow one layout: at least two apps, each environment in one place
// whose path differs between apps only by a segment that is the app's
// name, images and sources that differ only by the name, and the same
// settings per environment; false otherwise. Whether the rule finds
// exactly these apps in a repository is for the caller to check.
func Regular(p *Proposal) (*Rule, bool) {
	if len(p.Apps) < 2 {
		return nil, false
	}
	r := &Rule{}
	chain := map[string]Env{}
	for _, a := range p.Apps {
		image, ok := withPlaceholder(a.Image, a.Name)
		source, ok2 := withPlaceholder(a.Source, a.Name)
		if !ok || !ok2 || (r.Image != "" && (image != r.Image || source != r.Source)) {
			return nil, false
		}
		r.Image, r.Source = image, source
		for _, e := range a.Envs {
			t, ok := envTemplate(e, a.Name)
			if !ok {
				return nil, false
			}
			if prev, seen := chain[e.Name]; seen && !cmp.Equal(prev, t) {
				return nil, false
			}
			chain[e.Name] = t
		}
		r.Apps = append(r.Apps, a.Name)
	}
	for _, e := range chain {
		r.Envs = append(r.Envs, e)
	}
	sortEnvs(r.Envs)
	// Releases follow each app's own chain: an app lacking the first
	// environment would release its next one automatically, unlike the rule.
	for _, a := range p.Apps {
		if a.Envs[0].Name != r.Envs[0].Name {
			return nil, false
		}
	}
	r.Pattern = pattern(r.Envs)
	return r, r.Pattern != ""
}

// withPlaceholder replaces the last path segment of s by {app} when it is
// app.
func withPlaceholder(s, app string) (string, bool) {
	dir, base := path.Split(s)
	if base != app {
		return "", false
	}
	return dir + AppPlaceholder, true
}

// envTemplate is e for any app: its one path with the segment naming app
// replaced by {app}, without today's pins.
func envTemplate(e Env, app string) (Env, bool) {
	if len(e.Paths) != 1 || e.Container != "" {
		return Env{}, false
	}
	segs := strings.Split(e.Paths[0], "/")
	if strings.Count("/"+e.Paths[0]+"/", "/"+app+"/") != 1 {
		return Env{}, false
	}
	i := slices.Index(segs, app)
	segs[i] = AppPlaceholder
	e.Paths = []string{strings.Join(segs, "/")}
	e.Pins = nil
	return e, true
}

// pattern is the directory pattern that finds the apps of envs: with
// {env} where each path names its environment by a whole segment, else
// the directory down to {app}.
func pattern(envs []Env) string {
	withEnv := ""
	for _, e := range envs {
		segs := strings.Split(e.Paths[0], "/")
		i := slices.Index(segs, e.Name)
		if i < 0 || !strings.Contains(strings.Join(segs[:i], "/"), AppPlaceholder) {
			withEnv = ""
			break
		}
		segs[i] = config.EnvPlaceholder
		p := strings.Join(segs[:i+1], "/")
		if withEnv != "" && p != withEnv {
			withEnv = ""
			break
		}
		withEnv = p
	}
	if withEnv != "" {
		return withEnv
	}
	upToApp := ""
	for _, e := range envs {
		segs := strings.Split(e.Paths[0], "/")
		p := strings.Join(segs[:slices.Index(segs, AppPlaceholder)+1], "/")
		if upToApp != "" && p != upToApp {
			return ""
		}
		upToApp = p
	}
	return upToApp
}

// renderRule writes the apps of r as one template and one discover rule.
func renderRule(b *strings.Builder, r *Rule) {
	fmt.Fprintf(b, `# These apps are laid out alike (%s): their environment chain is written
# once, as a template, and a discover rule makes an app of each directory
# its pattern matches, so adding an app's directory adds the app.
# "conveyor validate --repo ." prints what the rule finds.
templates:
  - name: %s
    environments: # promotion order; {app} stands for each app's name
`, strings.Join(r.Apps, ", "), templateName)
	for _, e := range r.Envs {
		renderEnv(b, e)
	}
	fmt.Fprintf(b, `discover:
  - pattern: %s # {app}: the app's name; {env}: the environment's
    template: %s
    image: %s # the repository the manifests name
    source:
      repo: %s # %s
`, scalar(r.Pattern), templateName, scalar(r.Image), scalar(r.Source), sourceNote(r.Source))
}

// sameApps says whether the file with discover rules, parsed against
// tree, gives the apps listed does: the rule found no more, no fewer.
func sameApps(listed, discovered []byte, tree fs.FS) bool {
	want, err := config.Parse("conveyor.yaml", listed)
	if err != nil {
		return false
	}
	got, _, err := config.ParseTree("conveyor.yaml", discovered, tree)
	if err != nil {
		return false
	}
	return cmp.Equal(appsOf(want), appsOf(got))
}

// proposedApp is what an app of a proposal amounts to, positions aside.
type proposedApp struct {
	Name, Image, Source, Branch string
	Envs                        []proposedEnv
}

type proposedEnv struct {
	Name, Strategy, Container, Release string
	Paths, Reviewers                   []string
	Helm                               config.Helm
	Approvals                          int
}

func appsOf(c *config.Config) []proposedApp {
	var out []proposedApp
	for _, a := range c.Apps {
		pa := proposedApp{Name: a.Name, Image: a.Image, Source: a.Source.Repo, Branch: a.Source.Branch}
		for i := range a.Environments {
			e := &a.Environments[i]
			pa.Envs = append(pa.Envs, proposedEnv{Name: e.Name, Strategy: string(e.Strategy), Container: e.Container, Release: string(e.Release),
				Paths: e.Locations(), Reviewers: e.Reviewers, Approvals: e.Approvals,
				Helm: config.Helm{Image: e.Helm.Image, Repository: e.Helm.Repository, Digest: e.Helm.Digest, Tag: e.Helm.Tag}})
		}
		out = append(out, pa)
	}
	slices.SortFunc(out, func(a, b proposedApp) int { return strings.Compare(a.Name, b.Name) })
	return out
}
