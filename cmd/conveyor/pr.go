package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/localforge"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

func init() {
	commands["pr"] = command{"list, show, approve, merge or close promotion pull requests of the local forge", runPR}
}

func runPR(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: conveyor pr list|show N|approve N|merge N [--override reason]|close N [flags]", errUsage)
	}
	sub := args[0]
	fs := newFlags("pr "+sub, stderr)
	pf := addPipelineFlags(fs)
	as := fs.String("as", os.Getenv("USER"), "who approves or merges")
	asJSON := fs.Bool("json", false, "print JSON")
	stateFilter := fs.String("state", "", "with list: open, merged or closed")
	comment := fs.String("comment", "closed with conveyor pr close", "with close: the closing comment")
	override := fs.String("override", "", "with merge: merge past the release policy, for this reason (recorded on the PR, in the merge commit and in the release)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	number := 0
	if sub != "list" {
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: conveyor pr %s N", errUsage, sub)
		}
		n, err := strconv.Atoi(fs.Arg(0))
		if err != nil || n <= 0 {
			return fmt.Errorf("%w: %q is not a pull request number", errUsage, fs.Arg(0))
		}
		number = n
	}
	s, err := pf.open(ctx, stderr, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if s.local == nil {
		return fmt.Errorf("conveyor pr works on the local forge: a deployed stack's pull requests are on GitHub")
	}
	lf := s.local.Local
	if lf == nil {
		return fmt.Errorf("the GitOps repository is on GitHub: use GitHub for its pull requests")
	}
	// Events the CLI emits continue the trace of the promotion they act on.
	if number > 0 {
		ctx = logging.WithTrace(ctx, traceOf(ctx, s, number))
	}
	switch sub {
	case "list":
		prs, err := lf.List(ctx, *stateFilter)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(prs)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tSTATE\tBRANCH\tTITLE")
		for _, p := range prs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", p.Number, p.State, p.Branch, p.Title)
		}
		return tw.Flush()
	case "show":
		pr, err := lf.Get(ctx, number)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(pr)
		}
		fmt.Fprintf(stdout, "#%d %s\n%s → %s, %s", pr.Number, pr.Title, pr.Branch, pr.Base, pr.State)
		if pr.State == forge.StateMerged {
			fmt.Fprintf(stdout, " by %s as %.12s", pr.MergedBy, pr.MergeCommit)
		}
		if pr.Override != "" {
			fmt.Fprintf(stdout, "\noverride: %s", pr.Override)
		}
		fmt.Fprintf(stdout, "\nlabels: %v\n\n%s", pr.Labels, pr.Body)
		return nil
	case "approve":
		if err := lf.Approve(ctx, number, *as); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "#%d approved by %s; the approval function merges it when the release policy holds\n", number, *as)
		return nil
	case "merge":
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
	case "close":
		if err := lf.Close(ctx, number, *comment); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "#%d closed\n", number)
		return nil
	}
	return fmt.Errorf("%w: unknown pr command %q (list, show, approve, merge, close)", errUsage, sub)
}

func traceOf(ctx context.Context, s *session, number int) string {
	rels, err := s.state.ListReleases(ctx, state.ReleaseFilter{})
	if err != nil {
		return ""
	}
	for _, r := range rels {
		if r.PR == number && r.TraceID != "" {
			return r.TraceID
		}
	}
	return ""
}
