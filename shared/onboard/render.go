package onboard

import (
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
)

// RenderOptions shape the written file.
type RenderOptions struct {
	// Branch is the GitOps base branch; config.DefaultBranch when empty.
	Branch string
	// Tree is the repository the proposal was made from. With it, apps
	// laid out alike (Regular) are written as one discover rule, if the
	// rule finds exactly those apps in Tree; without it, every app is
	// listed.
	Tree fs.FS
}

// Render writes p as a commented conveyor.yaml that starts with the
// yaml-language-server schema line, so editors complete and check it.
func Render(p *Proposal, o RenderOptions) []byte {
	listed := render(p, nil, o.Branch)
	if o.Tree == nil {
		return listed
	}
	r, ok := Regular(p)
	if !ok {
		return listed
	}
	// The rule reads the whole tree: keep it only if it finds the very
	// apps the scan did, no directory more or less.
	if discovered := render(p, r, o.Branch); sameApps(listed, discovered, o.Tree) {
		return discovered
	}
	return listed
}

// render writes p, its apps as rule r when r is set, else listed.
func render(p *Proposal, r *Rule, branch string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# yaml-language-server: $schema=%s\n", config.SchemaURL)
	b.WriteString(`#
# Proposed by "conveyor init" from the manifests in this repository.
# Before committing it:
#   - set each app's source.repo: the repository whose pushes build the image;
#   - check the reviewers who must approve each manually released environment;
#   - run "conveyor validate --repo ." to check it against these files.
version: 1
gitops:
`)
	if branch == "" {
		branch = config.DefaultBranch
	}
	fmt.Fprintf(&b, "  branch: %s # promotion pull requests target this branch\n", scalar(branch))
	if r != nil {
		renderRule(&b, r)
		return []byte(b.String())
	}
	b.WriteString("apps:\n")
	for _, a := range p.Apps {
		renderApp(&b, a)
	}
	return []byte(b.String())
}

func renderApp(b *strings.Builder, a App) {
	fmt.Fprintf(b, "  - name: %s\n", scalar(a.Name))
	b.WriteString("    source:\n")
	fmt.Fprintf(b, "      repo: %s # %s\n", scalar(a.Source), sourceNote(a.Source))
	fmt.Fprintf(b, "    image: %s # the repository the manifests name\n", scalar(a.Image))
	b.WriteString("    environments: # promotion order\n")
	for _, e := range a.Envs {
		renderEnv(b, e)
	}
}

// sourceNote explains a source repository, asking for a change where it
// is the placeholder.
func sourceNote(source string) string {
	note := "the repository whose pushes build this image"
	if strings.HasPrefix(source, "OWNER/") {
		note = "CHANGE ME: " + note
	}
	return note
}

func renderEnv(b *strings.Builder, e Env) {
	fmt.Fprintf(b, "      - name: %s\n", scalar(e.Name))
	pins := " # pins " + strings.Join(e.Pins, ", ") + " today"
	switch {
	case len(e.Pins) == 0:
		pins = "" // a template's: each app pins its own
	case !strings.Contains(strings.Join(e.Pins, ""), "@"):
		pins = " # names " + strings.Join(e.Pins, ", ") + " today, no digest yet"
	}
	if len(e.Paths) == 1 {
		fmt.Fprintf(b, "        path: %s%s\n", scalar(e.Paths[0]), pins)
	} else {
		fmt.Fprintf(b, "        paths: # promoted together, in one pull request;%s\n", strings.TrimPrefix(pins, " #"))
		for _, p := range e.Paths {
			fmt.Fprintf(b, "          - %s\n", scalar(p))
		}
	}
	fmt.Fprintf(b, "        strategy: %s\n", e.Strategy)
	if e.Container != "" {
		fmt.Fprintf(b, "        container: %s\n", scalar(e.Container))
	}
	if !e.Helm.IsZero() {
		b.WriteString("        helm: # dotted paths in the values file\n")
		for _, kv := range [][2]string{{"image", e.Helm.Image}, {"repository", e.Helm.Repository}, {"digest", e.Helm.Digest}, {"tag", e.Helm.Tag}} {
			if kv[1] != "" {
				fmt.Fprintf(b, "          %s: %s\n", kv[0], scalar(kv[1]))
			}
		}
	}
	if e.Release == config.ReleaseAuto {
		b.WriteString("        release: auto # Continuous Deployment: Conveyor merges its own pull requests\n")
		return
	}
	b.WriteString("        release: manual # Continuous Delivery: a reviewer merges\n")
	quoted := make([]string, len(e.Reviewers))
	for i, r := range e.Reviewers {
		quoted[i] = scalar(r)
	}
	fmt.Fprintf(b, "        reviewers: [%s]\n", strings.Join(quoted, ", "))
}

var plainSafe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./@+-]*$`)

// scalar writes s plain when YAML reads it back as the same string, and
// double-quoted otherwise.
func scalar(s string) string {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "y", "n":
		return strconv.Quote(s)
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil || !plainSafe.MatchString(s) {
		return strconv.Quote(s)
	}
	return s
}
