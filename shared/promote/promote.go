package promote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/crashpoint"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/registry"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// promotion is one promotion in flight: what resolve and gate found, read
// by the steps after them.
type promotion struct {
	in     event.Promotion
	cfg    *config.Config
	app    *config.App
	env    *config.Environment
	next   *config.Environment // the environment after env, if any
	ref    manifest.Ref
	branch string
	now    time.Time
	log    *slog.Logger
	// deployed is the environment's latest merged release and proposed its
	// open proposal; gate sets both.
	deployed, proposed *state.Release
	// renderNote says why the manifests could not be rendered before the
	// pull request (a remote chart), for its body; propose sets it.
	renderNote string
	// facts are the image's, when checkImage read them.
	facts *registry.Provenance
	// provenance is the image's verified provenance, when the
	// environment requires it.
	provenance *attest.Verified
}

// Promote runs one promotion to completion: resolve, gate, propose,
// publish, record, release. It is safe to call any number of times with
// the same input.
func (p *Promoter) Promote(ctx context.Context, in event.Promotion) (*Outcome, error) {
	p.defaults()
	pm, err := p.resolve(ctx, in)
	if err != nil {
		return nil, err
	}
	w, coalesced := workOf(in)
	if !coalesced || p.Latest == nil {
		return p.run(ctx, pm)
	}
	if out, err := p.coalesce(ctx, pm, w); out != nil || err != nil {
		return out, err
	}
	return p.run(ctx, pm)
}

// run takes a resolved promotion through gate, propose, publish, record
// and release.
func (p *Promoter) run(ctx context.Context, pm *promotion) (*Outcome, error) {
	if out, err := p.gate(ctx, pm); out != nil || err != nil {
		return out, err
	}
	commit, changes, err := p.propose(ctx, pm)
	if errors.Is(err, gitops.ErrNoChanges) {
		return p.alreadyThere(ctx, pm)
	}
	if err != nil {
		return nil, err
	}
	crashpoint.Hit(crashpoint.AfterGitPush)
	pr, action, err := p.publish(ctx, pm, changes)
	if err != nil {
		return nil, err
	}
	crashpoint.Hit(crashpoint.AfterPROpened)
	rel, err := p.record(ctx, pm, pr, commit)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Action: action, PR: pr, Release: rel, Changes: changes}
	pm.log.InfoContext(ctx, "promotion proposed", "action", action, "pr", pr.Number, "branch", pm.branch, "head", commit.SHA, "pushed", commit.Changed, "changes", len(changes))
	if err := p.release(ctx, pm, out); err != nil {
		return nil, err
	}
	return out, nil
}

// resolve reads the configuration and finds the app, its environment and
// the reference to write. An unknown app or environment is permanent.
func (p *Promoter) resolve(ctx context.Context, in event.Promotion) (*promotion, error) {
	cfg, err := p.Config.Load(ctx)
	if err != nil {
		return nil, err
	}
	app, ok := cfg.App(in.App)
	if !ok {
		return nil, retry.Permanent(fmt.Errorf("promoting %s: no app %q in conveyor.yaml", in.Digest, in.App))
	}
	env, idx, ok := app.Env(in.Environment)
	if !ok {
		return nil, retry.Permanent(fmt.Errorf("promoting %s: app %s has no environment %q", in.Digest, in.App, in.Environment))
	}
	ref, err := promotionRef(app, env, in)
	if err != nil {
		return nil, err
	}
	pm := &promotion{in: in, cfg: cfg, app: app, env: env, ref: ref, branch: Branch(in.App, in.Environment), now: p.Now(),
		log: p.Log.With("app", in.App, "env", in.Environment, "digest", in.Digest)}
	if idx+1 < len(app.Environments) {
		pm.next = &app.Environments[idx+1]
	}
	return pm, nil
}

// gate decides whether the promotion goes ahead. It returns a non-nil
// outcome when it stops here: deferred by a freeze window (with a
// retry.Defer error), current because the digest is released, or skipped
// as older than what the environment has or is getting. A forced promotion
// passes the ordering check only with a reason.
func (p *Promoter) gate(ctx context.Context, pm *promotion) (*Outcome, error) {
	in := pm.in
	if err := p.checkImage(ctx, pm); err != nil {
		return nil, err
	}
	if frozen, until := pm.env.Frozen(pm.now); frozen {
		pm.log.InfoContext(ctx, "environment frozen: promotion waits", "until", until)
		return &Outcome{Action: Deferred, Reason: "frozen until " + until.Format(time.RFC3339)},
			retry.Defer(fmt.Errorf("%w: %s/%s until %s", ErrFrozen, in.App, in.Environment, until.Format(time.RFC3339)), until.Sub(pm.now))
	}
	rels, err := p.Releases.ListReleases(ctx, state.ReleaseFilter{App: in.App, Env: in.Environment})
	if err != nil {
		return nil, err
	}
	pm.deployed, pm.proposed = current(rels)
	switch {
	case pm.deployed != nil && pm.deployed.Digest == in.Digest && !in.Rollback:
		return &Outcome{Action: Current, Release: *pm.deployed, Reason: "already released"}, nil
	case in.Force && in.Reason == "":
		return nil, retry.Permanent(fmt.Errorf("promoting %s: an override of the ordering check needs a reason", short(in.Digest)))
	case in.Force:
		pm.log.WarnContext(ctx, "ordering check overridden", "by", in.By, "reason", in.Reason)
	case !in.Rollback:
		why, err := p.outdated(ctx, pm.app, in, pm.deployed, pm.proposed, pm.log)
		if err != nil {
			return nil, err
		}
		if why != "" {
			return p.skip(ctx, in, ReleaseID(in.App, in.Environment, in.Digest), why, pm.log)
		}
	}
	return nil, nil
}

// propose edits the environment in the GitOps repository, checks the
// rendered result, and pushes the change as the promotion branch. It
// returns gitops.ErrNoChanges when the base branch already holds the digest.
func (p *Promoter) propose(ctx context.Context, pm *promotion) (*gitops.Commit, []manifest.Change, error) {
	var changes []manifest.Change
	edit := func(snap fs.FS) (map[string][]byte, error) {
		out, ch, err := editEnv(snap, pm.app, pm.env, pm.ref)
		changes = ch
		if err != nil || len(out) == 0 {
			return out, err
		}
		if pm.renderNote, err = verifyHelm(snap, pm.env, out, pm.ref); err != nil {
			return nil, err
		}
		for _, dir := range overlayDirs(out) {
			if err := verifyRender(snap, out, dir, pm.ref, pm.env.KeepTag, p.FetchRemoteBases); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	msg := commitMessage(pm.in, pm.env, pm.deployed, logging.Trace(ctx))
	commit, err := p.Repo.Propose(ctx, pm.branch, edit, msg, pm.now)
	switch {
	case errors.Is(err, gitops.ErrNoChanges):
		return nil, changes, err
	case err != nil:
		return nil, nil, fmt.Errorf("proposing %s for %s/%s: %w", short(pm.in.Digest), pm.in.App, pm.in.Environment, err)
	}
	return commit, changes, nil
}

// alreadyThere answers a promotion whose digest the base branch already
// holds: the open pull request's merge landed before its event (that event
// records it), or the digest was set by hand or by a merge whose event has
// not arrived yet (recorded here as released).
func (p *Promoter) alreadyThere(ctx context.Context, pm *promotion) (*Outcome, error) {
	in := pm.in
	if pm.proposed != nil && pm.proposed.Digest == in.Digest && pm.proposed.PR != 0 {
		pm.log.InfoContext(ctx, "promotion current: the base branch already holds the proposed digest", "pr", pm.proposed.PR)
		return &Outcome{Action: Current, Release: *pm.proposed, Reason: "the base branch already holds this digest, proposed in #" + fmt.Sprint(pm.proposed.PR)}, nil
	}
	id, err := p.releaseID(ctx, in, nil, pm.now)
	if err != nil {
		return nil, err
	}
	r := state.Release{ID: id, App: in.App, Env: in.Environment, Image: pm.app.Image, Digest: in.Digest, Tag: in.Tag,
		SourceRepo: in.Source, SourceCommit: in.Revision, SourceTime: in.Created, State: state.Merged, TraceID: logging.Trace(ctx),
		Note: "the base branch already held this digest", MergedAt: pm.now}
	if err := p.putRelease(ctx, &r); err != nil {
		return nil, err
	}
	pm.log.InfoContext(ctx, "promotion current: the base branch already holds this digest")
	return &Outcome{Action: Current, Release: r, Reason: "the base branch already holds this digest"}, nil
}

// publish opens the promotion's pull request, or brings the open one up to
// date, and says which it did: Opened, Updated or Current.
func (p *Promoter) publish(ctx context.Context, pm *promotion, changes []manifest.Change) (*forge.PR, string, error) {
	in := pm.in
	title := fmt.Sprintf("Promote %s to %s: %s", in.App, in.Environment, shortTag(in))
	body := Body(BodyInput{Promotion: in, App: pm.app, Env: pm.env, Next: pm.next, From: pm.deployed, Changes: changes,
		Facts: p.imageFacts(ctx, pm), Provenance: pm.provenance, Now: pm.now, Selector: p.Selector, RenderNote: pm.renderNote, Commits: p.covered(ctx, pm)})
	labels := []string{"conveyor", "env:" + in.Environment, "app:" + in.App}
	if in.Rollback {
		labels = append(labels, "rollback")
	}
	pr, err := p.Forge.FindOpen(ctx, pm.branch)
	switch {
	case errors.Is(err, forge.ErrNotFound):
		pr, err = p.Forge.Create(ctx, forge.NewPR{Branch: pm.branch, Base: pm.cfg.GitOps.Branch, Title: title, Body: body, Labels: labels, Reviewers: pm.env.Reviewers})
		if err != nil {
			return nil, "", fmt.Errorf("opening the pull request for %s: %w", pm.branch, err)
		}
		return pr, Opened, nil
	case err != nil:
		return nil, "", fmt.Errorf("finding the pull request for %s: %w", pm.branch, err)
	case pr.Title == title && pr.Body == body:
		return pr, Current, nil
	}
	number := pr.Number
	if pr, err = p.Forge.Update(ctx, number, title, body, labels); err != nil {
		return nil, "", fmt.Errorf("updating pull request #%d: %w", number, err)
	}
	return pr, Updated, nil
}

// facts reads the image's provenance for the pull request body; without it
// the body says less, so a failure is logged, not returned.
func (p *Promoter) facts(ctx context.Context, pm *promotion) *registry.Provenance {
	if p.Inspect == nil {
		return nil
	}
	f, err := p.Inspect(ctx, pm.app.Image+"@"+pm.in.Digest)
	if err != nil {
		pm.log.WarnContext(ctx, "reading image facts for the PR body", "error", err.Error())
		return nil
	}
	return f
}

// record writes the proposed release (with the pushed head, for merges to
// check) and marks an older open proposal superseded.
func (p *Promoter) record(ctx context.Context, pm *promotion, pr *forge.PR, commit *gitops.Commit) (state.Release, error) {
	in := pm.in
	id, err := p.releaseID(ctx, in, pm.proposed, pm.now)
	if err != nil {
		return state.Release{}, err
	}
	rel := state.Release{ID: id, App: in.App, Env: in.Environment, Image: pm.app.Image, Digest: in.Digest, Tag: in.Tag,
		SourceRepo: in.Source, SourceCommit: in.Revision, SourceTime: in.Created, State: state.Proposed, Rollback: in.Rollback,
		PR: pr.Number, PRURL: pr.URL, Branch: pm.branch, HeadSHA: commit.SHA, TraceID: logging.Trace(ctx)}
	if in.Force {
		rel.Override = overrideNote(in)
	}
	if err := p.putRelease(ctx, &rel); err != nil {
		return state.Release{}, err
	}
	old := pm.proposed
	if old != nil && old.ID != rel.ID && old.State == state.Proposed {
		old.State, old.Note = state.Superseded, "superseded by "+short(in.Digest)+" in #"+fmt.Sprint(pr.Number)
		if err := p.Releases.PutRelease(ctx, old); err != nil && !errors.Is(err, state.ErrConflict) {
			return state.Release{}, err
		}
	}
	return rel, nil
}

// release merges the pull request when the environment releases
// automatically; a manual release waits for its reviewers.
func (p *Promoter) release(ctx context.Context, pm *promotion, out *Outcome) error {
	if pm.env.Release != config.ReleaseAuto {
		return nil
	}
	mc, err := p.Forge.Merge(ctx, out.PR.Number, forge.MergeOptions{Method: string(pm.env.MergeMethod)})
	if err != nil {
		return fmt.Errorf("merging pull request #%d (release: auto): %w", out.PR.Number, err)
	}
	out.Action = Merged
	pm.log.InfoContext(ctx, "promotion merged", "pr", out.PR.Number, "merge_commit", mc)
	return nil
}
