package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"sort"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"
)

func newPromoter(ctx context.Context, s *session) (*promote.Promoter, error) {
	f, ancestry, err := s.openForge(ctx)
	if err != nil {
		return nil, err
	}
	// The same attestation settings as the promote function's: on a
	// stack, its builder id and signing key from its outputs.
	as, err := attest.SettingsFromEnv(s.env)
	if err != nil {
		return nil, err
	}
	v := &attest.Verifier{BuilderID: as.BuilderID, PublicKey: as.PublicKey, Options: s.registryOptions}
	return &promote.Promoter{Config: promote.ConfigSource(s.config), Releases: s.state, Repo: s.gitops, Forge: f,
		Inspect: s.inspect, Log: s.log, Ancestry: ancestry, Selector: s.selector,
		Provenance: func(ctx context.Context, ref string) (*attest.Verified, error) {
			d, err := name.NewDigest(ref)
			if err != nil {
				return nil, fmt.Errorf("parsing %s: %w", ref, err)
			}
			return v.Verify(ctx, d)
		}}, nil
}

func runPromote(fs *pflag.FlagSet) runFunc {
	pf := addPipelineFlags(fs)
	force := fs.Bool("force", false, "override the checks (the digest was built, the previous environment runs it, it is not older than what runs); needs --reason, recorded with the release")
	reason := fs.String("reason", "", "why --force is needed (recorded with the release)")
	wait := fs.Bool("wait", false, "wait for the pull request's fate: exit 0 once merged, 1 if closed unmerged or still open after --timeout")
	timeout := fs.Duration("timeout", 30*time.Minute, "with --wait: how long to wait (0: until interrupted)")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if *timeout < 0 {
			return fmt.Errorf("%w: --timeout must not be negative", errUsage)
		}
		if fs.NArg() != 3 {
			return fmt.Errorf("%w: conveyor promote [--gitops URL|PATH] [--data-dir D] [--force --reason TEXT] APP ENV IMAGE[:TAG]@DIGEST", errUsage)
		}
		if *force != (strings.TrimSpace(*reason) != "") {
			return fmt.Errorf("%w: --force and --reason go together: an override says why", errUsage)
		}
		app, env, arg := fs.Arg(0), fs.Arg(1), fs.Arg(2)
		// IMAGE:TAG@DIGEST keeps its tag: a chart's "repository:tag" value
		// is written as TAG@DIGEST, and keepTag writes it beside the digest.
		ref, err := manifest.ParseRef(arg)
		if err != nil {
			return fmt.Errorf("%w: %q is not IMAGE[:TAG]@sha256:DIGEST (a tag alone is never promoted)", errUsage, arg)
		}
		repo, digest := ref.Repository, ref.Digest
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
		if repo != a.Image {
			return fmt.Errorf("%s is not %s's image repository %s", repo, app, a.Image)
		}
		_, idx, found := a.Env(env)
		if !found {
			return fmt.Errorf("app %s has no environment %q", app, env)
		}
		p := event.Promotion{App: app, Environment: env, Image: a.Image, Digest: digest, Tag: ref.Tag}
		prov, inspectErr := s.inspect(ctx, a.Image+"@"+digest)
		if inspectErr == nil {
			p.Source, p.Revision, p.Created = prov.Source, prov.Revision, prov.Created
		}
		if *force {
			p.Force, p.Reason, p.By = true, *reason, operator()
			if inspectErr != nil {
				fmt.Fprintf(stderr, "note: image facts unavailable (%v); promoting without provenance\n", inspectErr)
			}
		} else if err := checkManual(ctx, s.state, a, idx, digest, inspectErr); err != nil {
			return err
		}
		out, f, err := report(ctx, stdout, s, p)
		if err != nil || !*wait {
			return err
		}
		return awaitFate(ctx, stdout, f, out, *timeout)
	}
}

// checkManual refuses a hand promotion of a digest that was never built
// (the registry does not have it) or that skips an environment (the one
// before does not run it). Promoting what already runs changes nothing and
// needs no check.
func checkManual(ctx context.Context, st state.Releases, a *config.App, idx int, digest string, inspectErr error) error {
	env := a.Environments[idx].Name
	if runs, err := running(ctx, st, a.Name, env); err != nil || runs == digest {
		return err
	}
	if idx > 0 {
		prev := a.Environments[idx-1].Name
		runs, err := running(ctx, st, a.Name, prev)
		if err != nil {
			return err
		}
		if runs != digest {
			return fmt.Errorf("%s does not run %s (it runs %s): promote through %s first, or override with --force --reason TEXT",
				prev, digest, orNone(runs), prev)
		}
	}
	if inspectErr != nil {
		return fmt.Errorf("%s@%s is not in the registry (%v): promote a digest that was built and pushed, or override with --force --reason TEXT",
			a.Image, digest, inspectErr)
	}
	return nil
}

// running returns the digest of app's latest merged release to env, or "".
func running(ctx context.Context, st state.Releases, app, env string) (string, error) {
	rels, err := st.ListReleases(ctx, state.ReleaseFilter{App: app, Env: env, State: state.Merged})
	if err != nil {
		return "", fmt.Errorf("reading %s's releases to %s: %w", app, env, err)
	}
	var last *state.Release
	for i := range rels {
		if last == nil || !rels[i].MergedAt.Before(last.MergedAt) {
			last = &rels[i]
		}
	}
	if last == nil {
		return "", nil
	}
	return last.Digest, nil
}

// operator names who runs the command, for the override's record.
func operator() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// report promotes p and prints what it did; it returns the outcome and
// the forge that holds its pull request.
func report(ctx context.Context, stdout io.Writer, s *session, p event.Promotion) (*promote.Outcome, forge.Forge, error) {
	pr, err := newPromoter(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	ctx = logging.WithTrace(ctx, event.NewID())
	out, err := pr.Promote(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	switch out.Action {
	case promote.Opened, promote.Updated, promote.Merged:
		fmt.Fprintf(stdout, "%s #%d %s (%s)\n", out.Action, out.PR.Number, out.PR.Title, out.PR.Branch)
		for _, c := range out.Changes {
			fmt.Fprintf(stdout, "  %s:%d %s: %s → %s\n", c.File, c.Line, c.Path, orNone(c.Old), c.New)
		}
	default:
		fmt.Fprintf(stdout, "%s: %s\n", out.Action, out.Reason)
	}
	return out, pr.Forge, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func runRollback(fs *pflag.FlagSet) runFunc {
	pf := addPipelineFlags(fs)
	to := fs.String("to", "", "digest to go back to (default: the release before the current one)")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if fs.NArg() != 2 {
			return fmt.Errorf("%w: conveyor rollback APP ENV [--to DIGEST]", errUsage)
		}
		app, env := fs.Arg(0), fs.Arg(1)
		s, err := pf.open(ctx, stderr, true)
		if err != nil {
			return err
		}
		defer s.Close()
		target, err := rollbackTarget(ctx, s.state, app, env, *to)
		if err != nil {
			return err
		}
		p := event.Promotion{App: app, Environment: env, Image: target.Image, Digest: target.Digest, Tag: target.Tag,
			Source: target.SourceRepo, Revision: target.SourceCommit, Created: target.SourceTime, Rollback: true}
		_, _, err = report(ctx, stdout, s, p)
		return err
	}
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
