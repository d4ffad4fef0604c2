package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/images"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/promoter"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

func init() {
	commands["promote"] = command{"promote APP ENV IMAGE@DIGEST by hand: open or update its pull request", runPromote}
	commands["rollback"] = command{"rollback APP ENV [--to DIGEST]: propose the previous released digest again", runRollback}
}

func newPromoter(s *session) *promoter.Promoter {
	return &promoter.Promoter{Config: promoter.ConfigSource(s.config), Releases: s.rt.State, Repo: s.gitops, Forge: s.gitops.Forge,
		Inspect: func(ctx context.Context, ref string) (*images.Provenance, error) { return images.Inspect(ctx, ref) },
		Log:     s.rt.Logger(), Ancestry: local.SourceHistory()}
}

func runPromote(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("promote", stderr)
	pf := addPipelineFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 3 {
		return fmt.Errorf("%w: conveyor promote [--gitops URL|PATH] [--data-dir D] APP ENV IMAGE@DIGEST", errUsage)
	}
	app, env, ref := fs.Arg(0), fs.Arg(1), fs.Arg(2)
	repo, digest, ok := strings.Cut(ref, "@")
	if !ok || !strings.HasPrefix(digest, "sha256:") {
		return fmt.Errorf("%w: %q is not IMAGE@sha256:DIGEST (a tag is never promoted)", errUsage, ref)
	}
	s, err := pf.open(ctx, stderr, true)
	if err != nil {
		return err
	}
	defer s.Close()
	cfg, err := s.config(ctx)
	if err != nil {
		return err
	}
	a, found := cfg.App(app)
	if !found {
		return fmt.Errorf("no app %q in conveyor.yaml", app)
	}
	if repo != a.Image && !strings.HasPrefix(repo, a.Image+":") {
		return fmt.Errorf("%s is not %s's image repository %s", repo, app, a.Image)
	}
	p := event.Promotion{App: app, Environment: env, Image: a.Image, Digest: digest}
	if prov, err := images.Inspect(ctx, a.Image+"@"+digest); err == nil {
		p.Source, p.Revision, p.Created = prov.Source, prov.Revision, prov.Created
	} else {
		fmt.Fprintf(stderr, "note: image facts unavailable (%v); promoting without provenance\n", err)
	}
	return report(ctx, stdout, newPromoter(s), p)
}

func report(ctx context.Context, stdout io.Writer, pr *promoter.Promoter, p event.Promotion) error {
	ctx = logging.WithTrace(ctx, event.NewID())
	out, err := pr.Promote(ctx, p)
	if err != nil {
		return err
	}
	switch out.Action {
	case promoter.Opened, promoter.Updated, promoter.Merged:
		fmt.Fprintf(stdout, "%s #%d %s (%s)\n", out.Action, out.PR.Number, out.PR.Title, out.PR.Branch)
		for _, c := range out.Changes {
			fmt.Fprintf(stdout, "  %s:%d %s: %s → %s\n", c.File, c.Line, c.Path, orNone(c.Old), c.New)
		}
	default:
		fmt.Fprintf(stdout, "%s: %s\n", out.Action, out.Reason)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func runRollback(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rollback", stderr)
	pf := addPipelineFlags(fs)
	to := fs.String("to", "", "digest to go back to (default: the release before the current one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("%w: conveyor rollback APP ENV [--to DIGEST]", errUsage)
	}
	app, env := fs.Arg(0), fs.Arg(1)
	s, err := pf.open(ctx, stderr, true)
	if err != nil {
		return err
	}
	defer s.Close()
	target, err := rollbackTarget(ctx, s.rt.State, app, env, *to)
	if err != nil {
		return err
	}
	p := event.Promotion{App: app, Environment: env, Image: target.Image, Digest: target.Digest, Tag: target.Tag,
		Source: target.SourceRepo, Revision: target.SourceCommit, Created: target.SourceTime, Rollback: true}
	return report(ctx, stdout, newPromoter(s), p)
}

// rollbackTarget picks the release to restore: the one named, or the last
// merged release whose digest differs from the current one.
func rollbackTarget(ctx context.Context, st state.Releases, app, env, to string) (*state.Release, error) {
	rels, err := st.ListReleases(ctx, state.ReleaseFilter{App: app, Env: env, State: state.Merged})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(rels, func(i, j int) bool { return rels[i].MergedAt.Before(rels[j].MergedAt) })
	if len(rels) == 0 {
		return nil, fmt.Errorf("%s has never been released to %s: nothing to roll back", app, env)
	}
	current := rels[len(rels)-1]
	for i := len(rels) - 1; i >= 0; i-- {
		r := rels[i]
		if to != "" && r.Digest == to {
			return &r, nil
		}
		if to == "" && r.Digest != current.Digest {
			return &r, nil
		}
	}
	if to != "" {
		return nil, errors.New(to + " was never released to " + env + ": roll back only to a digest that ran there")
	}
	return nil, fmt.Errorf("%s/%s has had only one digest (%s since %s): nothing earlier to restore", app, env, current.Digest, current.MergedAt.Format(time.RFC3339))
}
