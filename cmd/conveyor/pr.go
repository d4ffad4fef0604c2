package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/approval"
	"github.com/conveyor-gitops/conveyor/shared/board"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/localforge"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// prCommand is `conveyor pr`: the local forge's promotion pull requests.
func prCommand() *cobra.Command {
	return group("pr", "list, show, approve, merge or close promotion pull requests of the local forge",
		leaf("list", "list the promotion pull requests", runPRList),
		leaf("show N", "show a pull request: its branch, state, labels and body", runPRShow),
		leaf("approve N", "approve a pull request; the approval function merges it when the release policy holds", runPRApprove),
		leaf("merge N [--override REASON]", "merge a pull request as --as", runPRMerge),
		leaf("close N", "close a pull request unmerged", runPRClose),
	)
}

// openLocalForge opens the pipeline and its local forge, which the pr
// commands work on; number, when positive, names the pull request the
// command acts on, whose trace the command's events continue.
func (p pipelineFlags) openLocalForge(ctx context.Context, stderr io.Writer, number int) (context.Context, *session, *localforge.Forge, error) {
	s, err := p.open(ctx, stderr, false)
	if err != nil {
		return ctx, nil, nil, err
	}
	if s.local == nil {
		s.Close()
		return ctx, nil, nil, fmt.Errorf("conveyor pr works on the local forge: a deployed stack's pull requests are on GitHub")
	}
	if s.local.Local == nil {
		s.Close()
		return ctx, nil, nil, fmt.Errorf("the GitOps repository is on GitHub: use GitHub for its pull requests")
	}
	if number > 0 {
		ctx = logging.WithTrace(ctx, traceOf(ctx, s, number))
	}
	return ctx, s, s.local.Local, nil
}

// prNumber is the one positional argument of a pr subcommand.
func prNumber(fs *pflag.FlagSet, sub string) (int, error) {
	if fs.NArg() != 1 {
		return 0, fmt.Errorf("%w: conveyor pr %s N", errUsage, sub)
	}
	n, err := strconv.Atoi(fs.Arg(0))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: %q is not a pull request number", errUsage, fs.Arg(0))
	}
	return n, nil
}

func runPRList(fs *pflag.FlagSet) runFunc {
	p := addPipelineFlags(fs)
	out := addOutputFlag(fs)
	stateFilter := fs.String("state", "", "open, merged or closed")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if err := out.resolve(stderr); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
		}
		ctx, s, lf, err := p.openLocalForge(ctx, stderr, 0)
		if err != nil {
			return err
		}
		defer s.Close()
		prs, err := lf.List(ctx, *stateFilter)
		if err != nil {
			return err
		}
		if !out.table() {
			return out.write(stdout, prs)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tSTATE\tBRANCH\tTITLE")
		for _, p := range prs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", p.Number, p.State, p.Branch, p.Title)
		}
		return tw.Flush()
	}
}

func runPRShow(fs *pflag.FlagSet) runFunc {
	p := addPipelineFlags(fs)
	out := addOutputFlag(fs)
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if err := out.resolve(stderr); err != nil {
			return err
		}
		number, err := prNumber(fs, "show")
		if err != nil {
			return err
		}
		ctx, s, lf, err := p.openLocalForge(ctx, stderr, number)
		if err != nil {
			return err
		}
		defer s.Close()
		pr, err := lf.Get(ctx, number)
		if err != nil {
			return err
		}
		wait, err := waiting(ctx, s, lf, pr, time.Now())
		if err != nil {
			return err
		}
		if !out.table() {
			return out.write(stdout, struct {
				*forge.PR
				Waiting string `json:"waiting,omitempty"`
			}{pr, wait})
		}
		fmt.Fprintf(stdout, "#%d %s\n%s → %s, %s", pr.Number, pr.Title, pr.Branch, pr.Base, pr.State)
		if wait != "" {
			fmt.Fprintf(stdout, "\nwaiting: %s", wait)
		}
		if pr.State == forge.StateMerged {
			fmt.Fprintf(stdout, " by %s as %.12s", pr.MergedBy, pr.MergeCommit)
		}
		if pr.Override != "" {
			fmt.Fprintf(stdout, "\noverride: %s", pr.Override)
		}
		fmt.Fprintf(stdout, "\nlabels: %v\n\n%s", pr.Labels, pr.Body)
		return nil
	}
}

// prAction is the run of a pr subcommand that acts on the one pull
// request its argument names, in the local forge.
func prAction(fs *pflag.FlagSet, p pipelineFlags, sub string, act func(ctx context.Context, lf *localforge.Forge, number int, stdout io.Writer) error) runFunc {
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		number, err := prNumber(fs, sub)
		if err != nil {
			return err
		}
		ctx, s, lf, err := p.openLocalForge(ctx, stderr, number)
		if err != nil {
			return err
		}
		defer s.Close()
		return act(ctx, lf, number, stdout)
	}
}

func runPRApprove(fs *pflag.FlagSet) runFunc {
	p := addPipelineFlags(fs)
	as := fs.String("as", os.Getenv("USER"), "who approves")
	return prAction(fs, p, "approve", func(ctx context.Context, lf *localforge.Forge, number int, stdout io.Writer) error {
		if err := lf.Approve(ctx, number, *as); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "#%d approved by %s; the approval function merges it when the release policy holds\n", number, *as)
		return nil
	})
}

func runPRMerge(fs *pflag.FlagSet) runFunc {
	p := addPipelineFlags(fs)
	as := fs.String("as", os.Getenv("USER"), "who merges")
	override := fs.String("override", "", "merge past the release policy, for this reason (recorded on the PR, in the merge commit and in the release)")
	return prAction(fs, p, "merge", func(ctx context.Context, lf *localforge.Forge, number int, stdout io.Writer) error {
		mctx := localforge.WithMerger(ctx, *as)
		if *override != "" {
			mctx = localforge.WithOverride(mctx, *override)
		}
		mc, err := lf.Merge(mctx, number, forge.MergeOptions{Method: forge.MergeMerge})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "#%d merged by %s as %s; the approval function records it and promotes onward\n", number, *as, mc)
		if *override != "" {
			fmt.Fprintf(stdout, "the release policy was overridden: %q is recorded\n", *override)
		}
		return nil
	})
}

func runPRClose(fs *pflag.FlagSet) runFunc {
	p := addPipelineFlags(fs)
	comment := fs.String("comment", "closed with conveyor pr close", "the closing comment")
	return prAction(fs, p, "close", func(ctx context.Context, lf *localforge.Forge, number int, stdout io.Writer) error {
		if err := lf.Close(ctx, number, *comment); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "#%d closed\n", number)
		return nil
	})
}

func traceOf(ctx context.Context, s *session, number int) string {
	rels, err := s.state.ListReleases(ctx, state.ReleaseFilter{PR: number})
	if err != nil {
		return ""
	}
	for _, r := range rels {
		if r.TraceID != "" {
			return r.TraceID
		}
	}
	return ""
}

// waiting says why an open promotion into a manual environment has not
// merged: the approvals the policy still needs, in the board's words, on
// the head they must approve, or the freeze holding it. It is "" when
// nothing in the release policy holds the pull request.
func waiting(ctx context.Context, s *session, lf *localforge.Forge, pr *forge.PR, now time.Time) (string, error) {
	envName, appName, ok := approval.ParseBranch(pr.Branch)
	if pr.State != forge.StateOpen || !ok {
		return "", nil
	}
	cfg, err := s.config(ctx)
	if err != nil {
		return "", err
	}
	a, ok := cfg.App(appName)
	if !ok {
		return "", nil
	}
	e, _, ok := a.Env(envName)
	if !ok || e.Release != config.ReleaseManual {
		return "", nil
	}
	reviews, err := lf.Reviews(ctx, pr.Number)
	if err != nil {
		return "", fmt.Errorf("reading #%d's reviews: %w", pr.Number, err)
	}
	got := approval.Counted(ctx, e, reviews, pr.HeadSHA, s.local.Teams)
	// Counted asked about the teams already: whoever it counted is in one.
	counted := func(team, user string) bool { return slices.Contains(got, user) }
	if ok, _ := approval.Satisfied(e, reviews, pr.HeadSHA, counted); ok {
		if frozen, until := e.Frozen(now); frozen {
			return fmt.Sprintf("%s is frozen until %s", envName, until.Format(time.RFC3339)), nil
		}
		return "", nil
	}
	// "manual: 1 of 2 approvals from [alice, acme/sre] (so far: alice)"
	// as the board says it, the head it counts on before who so far.
	progress := strings.TrimPrefix(board.Progress(e, got), "manual: ")
	count, sofar, _ := strings.Cut(progress, " (")
	line := fmt.Sprintf("%s on %.7s", count, pr.HeadSHA)
	if sofar != "" {
		line += " (" + sofar
	}
	return line, nil
}
