package promote

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/registry"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// BodyInput is everything a promotion pull request body shows.
type BodyInput struct {
	Promotion event.Promotion
	App       *config.App
	Env       *config.Environment
	// Next is the environment a merge promotes to, nil for the last.
	Next *config.Environment
	// From is the release the environment runs now, nil for the first.
	From    *state.Release
	Changes []manifest.Change
	Facts   *registry.Provenance
	// Provenance is the image's verified provenance, nil when the
	// environment does not require it.
	Provenance *attest.Verified
	Now        time.Time
	// Selector selects the deployment in the printed `conveyor` commands
	// ("--stack NAME" on AWS, see StackSelector), "" for the default.
	Selector string
	// RenderNote says why the manifests were not rendered before the pull
	// request (a chart from a chart repository), "" when they were or
	// need not be.
	RenderNote string
	// Commits are the source commits the promotion brings into the
	// environment, oldest first: those of the work it coalesced as well as
	// its own (see Promoter.covered). None: the section is left out.
	Commits []string
}

// MaxCommits is the most commits a body lists; the rest are counted.
const MaxCommits = 50

// stackNamePattern is CloudFormation's rule for a stack name.
var stackNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)

// StackSelector is the `conveyor` flag that selects the deployed stack
// named stack, for commands printed in pull request bodies; "" when stack
// is empty or not a stack name (nothing unchecked reaches a body).
func StackSelector(stack string) string {
	if !stackNamePattern.MatchString(stack) {
		return ""
	}
	return "--stack " + stack
}

// Body renders the pull request body: what moves where, from which source,
// the exact manifest change, the release policy, and how to roll back — so
// an approver can decide with one look.
func Body(in BodyInput) string {
	p := in.Promotion
	var b strings.Builder
	verb := "Promote"
	if p.Rollback {
		verb = "Roll back"
	}
	fmt.Fprintf(&b, "## %s **%s** to **%s**\n\n", verb, p.App, p.Environment)
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Image | `%s` |\n", in.App.Image)
	if in.From != nil {
		fmt.Fprintf(&b, "| From | `%s`%s |\n", in.From.Digest, releasedIn(in.From))
	} else {
		b.WriteString("| From | nothing released by Conveyor yet |\n")
	}
	to := "`" + p.Digest + "`"
	if p.Tag != "" {
		to += " (tag `" + p.Tag + "`)"
	}
	fmt.Fprintf(&b, "| To | %s |\n", to)
	if p.Revision != "" {
		fmt.Fprintf(&b, "| Source | %s |\n", commitLink(p.Source, p.Revision))
	}
	if in.From != nil && in.From.SourceCommit != "" && p.Revision != "" && in.From.SourceCommit != p.Revision {
		fmt.Fprintf(&b, "| Since the released version | %s |\n", compareLink(p.Source, in.From.SourceCommit, p.Revision))
	}
	if p.From != "" {
		fmt.Fprintf(&b, "| Already released in | %s |\n", p.From)
	}
	writeCommits(&b, p.Source, in.Commits)

	if f := in.Facts; f != nil {
		b.WriteString("\n### Image\n\n")
		if !f.Created.IsZero() {
			fmt.Fprintf(&b, "- Created: %s\n", f.Created.UTC().Format(time.RFC3339))
		}
		if len(f.Platforms) > 0 && len(in.Env.Platforms) == 0 {
			fmt.Fprintf(&b, "- Platforms: %s\n", strings.Join(f.Platforms, ", "))
		}
		if f.Size > 0 {
			fmt.Fprintf(&b, "- Size: %s\n", humanSize(f.Size))
		}
		if f.Source != "" {
			fmt.Fprintf(&b, "- `%s`: %s\n", registry.AnnotationSource, f.Source)
		}
		if f.Revision != "" {
			fmt.Fprintf(&b, "- `%s`: %s\n", registry.AnnotationRevision, f.Revision)
		}
		if len(in.Env.Platforms) > 0 {
			writePlatforms(&b, in.Env, f.Platforms)
		}
	}
	if in.Provenance != nil {
		writeProvenance(&b, in.Provenance)
	}

	b.WriteString("\n### Manifest changes\n\n")
	if len(in.Changes) == 0 {
		b.WriteString("None: the branch already holds this digest.\n")
	} else {
		b.WriteString("```diff\n")
		for _, c := range in.Changes {
			fmt.Fprintf(&b, "@@ %s:%d %s @@\n", c.File, c.Line, c.Path)
			if c.Old != "" {
				fmt.Fprintf(&b, "- %s\n", c.Old)
			}
			if c.New != "" {
				fmt.Fprintf(&b, "+ %s\n", c.New)
			}
		}
		b.WriteString("```\n")
	}
	if in.RenderNote != "" {
		fmt.Fprintf(&b, "\n> **Not rendered.** %s\n", in.RenderNote)
	}

	b.WriteString("\n### Release policy\n\n")
	if in.Env.Release == config.ReleaseAuto {
		fmt.Fprintf(&b, "- **Merges itself**: `%s` is `release: auto` (Continuous Deployment).\n", p.Environment)
	} else {
		who := "anyone with write access"
		if len(in.Env.Reviewers) > 0 {
			var rs []string
			for _, r := range in.Env.Reviewers {
				rs = append(rs, "@"+r)
			}
			who = strings.Join(rs, ", ")
		}
		fmt.Fprintf(&b, "- **Waits for approval**: `%s` is `release: manual` (Continuous Delivery); %d approval(s) from %s on the current head, then Conveyor merges.\n",
			p.Environment, max(in.Env.Approvals, 1), who)
	}
	for _, f := range in.Env.Freeze {
		fmt.Fprintf(&b, "- Frozen from `%s` (%s) for %s: nothing merges then; promotions wait.\n", f.Cron, f.Timezone, f.Duration)
	}
	if in.Env.Verify {
		b.WriteString("- Verify: the checks of the merged GitOps commit must be green before the next environment.\n")
	}
	if in.Next != nil {
		fmt.Fprintf(&b, "- After the merge, the same digest is promoted to **%s**.\n", in.Next.Name)
	} else {
		b.WriteString("- This is the last environment of the pipeline.\n")
	}

	b.WriteString("\n### Rollback\n\n")
	if in.From != nil {
		sel := ""
		if in.Selector != "" {
			sel = in.Selector + " "
		}
		fmt.Fprintf(&b, "Revert this pull request once merged, or run `conveyor rollback %s%s %s --to %s`.\n", sel, p.App, p.Environment, in.From.Digest)
	} else {
		b.WriteString("Revert this pull request once merged: there is no earlier Conveyor release to go back to.\n")
	}
	fmt.Fprintf(&b, "\n<!-- conveyor app=%s env=%s digest=%s -->\n", p.App, p.Environment, p.Digest)
	return b.String()
}

// writeCommits lists the commits a promotion covers, newest last.
func writeCommits(b *strings.Builder, src string, commits []string) {
	if len(commits) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### Commits (%d)\n\n", len(commits))
	shown := commits[max(0, len(commits)-MaxCommits):]
	if hidden := len(commits) - len(shown); hidden > 0 {
		fmt.Fprintf(b, "- … and %d older\n", hidden)
	}
	for _, c := range shown {
		fmt.Fprintf(b, "- %s\n", commitLink(src, c))
	}
}

func releasedIn(r *state.Release) string {
	s := ""
	if r.PR > 0 {
		s = fmt.Sprintf(" (released in #%d", r.PR)
		if !r.MergedAt.IsZero() {
			s += " on " + r.MergedAt.UTC().Format("2006-01-02")
		}
		s += ")"
	}
	return s
}

// webRepo returns the https web address of a source, or "" when it is not
// one a browser can open.
func webRepo(src string) string {
	if !strings.HasPrefix(src, "https://") {
		return ""
	}
	return strings.TrimSuffix(strings.TrimSuffix(src, "/"), ".git")
}

func commitLink(src, sha string) string {
	if w := webRepo(src); w != "" {
		return fmt.Sprintf("[%s@%s](%s/commit/%s)", strings.TrimPrefix(w, "https://"), sha[:min(12, len(sha))], w, sha)
	}
	if src != "" {
		return fmt.Sprintf("`%s` at `%s`", src, sha)
	}
	return "`" + sha + "`"
}

func compareLink(src, from, to string) string {
	if w := webRepo(src); w != "" {
		return fmt.Sprintf("[%s…%s](%s/compare/%s...%s)", from[:min(12, len(from))], to[:min(12, len(to))], w, from, to)
	}
	return fmt.Sprintf("`git log %s..%s`", from, to)
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// commitMessage says what and why, with trailers machines can read.
func commitMessage(p event.Promotion, env *config.Environment, from *state.Release, trace string) string {
	var b strings.Builder
	verb := "Promote"
	if p.Rollback {
		verb = "Roll back"
	}
	fmt.Fprintf(&b, "%s %s to %s: %s\n\n", verb, p.App, p.Environment, short(p.Digest))
	if from != nil {
		fmt.Fprintf(&b, "%s moves from %s to %s", p.Environment, short(from.Digest), short(p.Digest))
	} else {
		fmt.Fprintf(&b, "First Conveyor release of %s to %s", p.App, p.Environment)
	}
	if p.Revision != "" {
		fmt.Fprintf(&b, ", built from %s", p.Revision[:min(12, len(p.Revision))])
	}
	if p.From != "" {
		fmt.Fprintf(&b, " and released in %s before", p.From)
	}
	b.WriteString(".\n\n")
	fmt.Fprintf(&b, "Conveyor-App: %s\nConveyor-Env: %s\nConveyor-Digest: %s\n", p.App, p.Environment, p.Digest)
	if p.Revision != "" {
		fmt.Fprintf(&b, "Source-Commit: %s\n", p.Revision)
	}
	if trace != "" {
		fmt.Fprintf(&b, "Trace-Id: %s\n", trace)
	}
	return b.String()
}
