package promoter

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/crashpoint"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/images"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// ConfigSource returns the pipeline's current conveyor.yaml.
type ConfigSource = config.Loader

// Repo is the GitOps repository, as promotions use it (a *gitops.Repo).
type Repo interface {
	// Propose commits edit's writes on top of the base branch as the only
	// commit of branch, force-pushing it; it pushes nothing when the branch
	// already holds that change.
	Propose(ctx context.Context, branch string, edit gitops.Edit, message string, when time.Time) (*gitops.Commit, error)
}

// Promoter promotes digests into environments.
type Promoter struct {
	Config   ConfigSource
	Releases state.Releases
	Repo     Repo
	Forge    forge.Forge
	// Inspect reads image facts for the PR body (optional).
	Inspect func(ctx context.Context, ref string) (*images.Provenance, error)
	Log     *slog.Logger
	Now     func() time.Time
	// Ancestry reads source history to order releases; without it, build
	// times do (see older).
	Ancestry Ancestry
	// Selector selects this deployment in the `conveyor rollback` command
	// pull request bodies print ("--stack NAME" on AWS; see StackSelector).
	Selector string
}

// Outcome says what a promotion did.
type Outcome struct {
	// Action is one of the Action constants.
	Action  string
	PR      *forge.PR
	Release state.Release
	Changes []manifest.Change
	// Reason explains a no-op.
	Reason string
}

// Actions a promotion can take.
const (
	Opened   = "opened"   // a new pull request
	Updated  = "updated"  // the open pull request now proposes this digest
	Merged   = "merged"   // auto release: proposed and merged
	Current  = "current"  // nothing to do: already proposed or released
	Skipped  = "skipped"  // an older image than the environment has or is getting
	Deferred = "deferred" // frozen: retried when the window closes
)

// ErrFrozen marks a promotion that waits for a freeze window to end.
var ErrFrozen = errors.New("environment frozen")

// Func returns the promotions queue's message function.
func (p *Promoter) Func() consume.Func {
	p.defaults()
	return func(ctx context.Context, env *event.Envelope) error {
		if err := consume.Expect(env, event.KindPromotion); err != nil {
			return err
		}
		var pr event.Promotion
		if err := env.DecodePayload(&pr); err != nil {
			return retry.Permanent(err)
		}
		_, err := p.Promote(ctx, pr)
		return err
	}
}

func (p *Promoter) defaults() {
	if p.Log == nil {
		p.Log = slog.Default()
	}
	if p.Now == nil {
		p.Now = time.Now
	}
}

// Branch is the head branch of an app's promotion pull requests into env.
func Branch(app, env string) string { return "conveyor/" + env + "/" + app }

// ReleaseID identifies the release of digest into app/env.
func ReleaseID(app, env, digest string) string { return app + "/" + env + "/" + digest }

// Promote runs one promotion to completion. It is safe to call any number
// of times with the same input.
func (p *Promoter) Promote(ctx context.Context, in event.Promotion) (*Outcome, error) {
	p.defaults()
	log := p.Log.With("app", in.App, "env", in.Environment, "digest", in.Digest)
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
	now := p.Now()
	if frozen, until := env.Frozen(now); frozen {
		log.InfoContext(ctx, "environment frozen: promotion waits", "until", until)
		return &Outcome{Action: Deferred, Reason: "frozen until " + until.Format(time.RFC3339)},
			retry.Defer(fmt.Errorf("%w: %s/%s until %s", ErrFrozen, in.App, in.Environment, until.Format(time.RFC3339)), until.Sub(now))
	}

	rels, err := p.Releases.ListReleases(ctx, state.ReleaseFilter{App: in.App, Env: in.Environment})
	if err != nil {
		return nil, err
	}
	deployed, proposed := current(rels)
	id := ReleaseID(in.App, in.Environment, in.Digest)
	switch {
	case deployed != nil && deployed.Digest == in.Digest && !in.Rollback:
		return &Outcome{Action: Current, Release: *deployed, Reason: "already released"}, nil
	case in.Force && in.Reason == "":
		return nil, retry.Permanent(fmt.Errorf("promoting %s: an override of the ordering check needs a reason", short(in.Digest)))
	case in.Force:
		log.WarnContext(ctx, "ordering check overridden", "by", in.By, "reason", in.Reason)
	case !in.Rollback:
		why, err := p.outdated(ctx, app, in, deployed, proposed, log)
		if err != nil {
			return nil, err
		}
		if why != "" {
			return p.skip(ctx, in, id, why, log)
		}
	}

	branch := Branch(in.App, in.Environment)
	var changes []manifest.Change
	var renderNote string
	edit := func(snap fs.FS) (map[string][]byte, error) {
		out, ch, err := editEnv(snap, app, env, ref)
		changes = ch
		if err != nil || len(out) == 0 {
			return out, err
		}
		if renderNote, err = verifyHelm(snap, env, out, ref); err != nil {
			return nil, err
		}
		for _, dir := range overlayDirs(out) {
			if err := verifyRender(snap, out, dir, ref, env.KeepTag); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var from *state.Release
	if deployed != nil {
		from = deployed
	}
	msg := commitMessage(in, env, from, logging.Trace(ctx))
	commit, err := p.Repo.Propose(ctx, branch, edit, msg, now)
	if errors.Is(err, gitops.ErrNoChanges) {
		if proposed != nil && proposed.Digest == in.Digest && proposed.PR != 0 {
			// The open pull request's merge landed before its event:
			// that event records it, with the pull request.
			log.InfoContext(ctx, "promotion current: the base branch already holds the proposed digest", "pr", proposed.PR)
			return &Outcome{Action: Current, Release: *proposed, Reason: "the base branch already holds this digest, proposed in #" + fmt.Sprint(proposed.PR)}, nil
		}
		// The base branch already runs this digest (set by hand, or a
		// merge whose event has not arrived yet): record it as released.
		id, err := p.releaseID(ctx, in, nil, now)
		if err != nil {
			return nil, err
		}
		r := state.Release{ID: id, App: in.App, Env: in.Environment, Image: app.Image, Digest: in.Digest, Tag: in.Tag,
			SourceRepo: in.Source, SourceCommit: in.Revision, SourceTime: in.Created, State: state.Merged, TraceID: logging.Trace(ctx),
			Note: "the base branch already held this digest", MergedAt: now}
		if err := p.putRelease(ctx, &r); err != nil {
			return nil, err
		}
		log.InfoContext(ctx, "promotion current: the base branch already holds this digest")
		return &Outcome{Action: Current, Release: r, Reason: "the base branch already holds this digest"}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("proposing %s for %s/%s: %w", short(in.Digest), in.App, in.Environment, err)
	}
	crashpoint.Hit(crashpoint.AfterGitPush)

	var facts *images.Provenance
	if p.Inspect != nil {
		if f, err := p.Inspect(ctx, app.Image+"@"+in.Digest); err == nil {
			facts = f
		} else {
			log.WarnContext(ctx, "reading image facts for the PR body", "error", err.Error())
		}
	}
	var next *config.Environment
	if idx+1 < len(app.Environments) {
		next = &app.Environments[idx+1]
	}
	title := fmt.Sprintf("Promote %s to %s: %s", in.App, in.Environment, shortTag(in))
	body := Body(BodyInput{Promotion: in, App: app, Env: env, Next: next, From: from, Changes: changes, Facts: facts, Now: now, Selector: p.Selector, RenderNote: renderNote})
	labels := []string{"conveyor", "env:" + in.Environment, "app:" + in.App}
	if in.Rollback {
		labels = append(labels, "rollback")
	}

	pr, err := p.Forge.FindOpen(ctx, branch)
	action := Updated
	switch {
	case errors.Is(err, forge.ErrNotFound):
		action = Opened
		pr, err = p.Forge.Create(ctx, forge.NewPR{Branch: branch, Base: cfg.GitOps.Branch, Title: title, Body: body, Labels: labels, Reviewers: env.Reviewers})
		if err != nil {
			return nil, fmt.Errorf("opening the pull request for %s: %w", branch, err)
		}
	case err != nil:
		return nil, fmt.Errorf("finding the pull request for %s: %w", branch, err)
	default:
		if pr.Title != title || pr.Body != body {
			if pr, err = p.Forge.Update(ctx, pr.Number, title, body, labels); err != nil {
				return nil, fmt.Errorf("updating pull request #%d: %w", pr.Number, err)
			}
		} else {
			action = Current
		}
	}

	crashpoint.Hit(crashpoint.AfterPROpened)
	relID, err := p.releaseID(ctx, in, proposed, now)
	if err != nil {
		return nil, err
	}
	rel := state.Release{ID: relID, App: in.App, Env: in.Environment, Image: app.Image, Digest: in.Digest, Tag: in.Tag,
		SourceRepo: in.Source, SourceCommit: in.Revision, SourceTime: in.Created, State: state.Proposed, Rollback: in.Rollback,
		PR: pr.Number, PRURL: pr.URL, Branch: branch, HeadSHA: commit.SHA, TraceID: logging.Trace(ctx)}
	if in.Force {
		rel.Override = overrideNote(in)
	}
	if err := p.putRelease(ctx, &rel); err != nil {
		return nil, err
	}
	if proposed != nil && proposed.ID != rel.ID && proposed.State == state.Proposed {
		proposed.State, proposed.Note = state.Superseded, "superseded by "+short(in.Digest)+" in #"+fmt.Sprint(pr.Number)
		if err := p.Releases.PutRelease(ctx, proposed); err != nil && !errors.Is(err, state.ErrConflict) {
			return nil, err
		}
	}
	out := &Outcome{Action: action, PR: pr, Release: rel, Changes: changes}
	log.InfoContext(ctx, "promotion proposed", "action", action, "pr", pr.Number, "branch", branch, "head", commit.SHA, "pushed", commit.Changed, "changes", len(changes))

	if env.Release == config.ReleaseAuto {
		mc, err := p.Forge.Merge(ctx, pr.Number, forge.MergeOptions{Method: string(env.MergeMethod)})
		if err != nil {
			return nil, fmt.Errorf("merging pull request #%d (release: auto): %w", pr.Number, err)
		}
		out.Action = Merged
		log.InfoContext(ctx, "promotion merged", "pr", pr.Number, "merge_commit", mc)
	}
	return out, nil
}

func (p *Promoter) skip(ctx context.Context, in event.Promotion, id, why string, log *slog.Logger) (*Outcome, error) {
	r := state.Release{ID: id, App: in.App, Env: in.Environment, Digest: in.Digest, Tag: in.Tag, SourceRepo: in.Source,
		SourceCommit: in.Revision, SourceTime: in.Created, State: state.Skipped, Note: why, TraceID: logging.Trace(ctx)}
	if err := p.putRelease(ctx, &r); err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "promotion skipped", "reason", why)
	return &Outcome{Action: Skipped, Release: r, Reason: why}, nil
}

// releaseID picks the record a proposal of in writes: the open proposal of
// the same digest, so that repeated calls stay one record; otherwise the
// digest's own ID, unless a finished release (merged, rejected, superseded)
// holds it: then a fresh ID, as for a rollback, so a roll-forward after a
// rollback or a new proposal after a rejection is recorded rather than lost
// behind the old record.
func (p *Promoter) releaseID(ctx context.Context, in event.Promotion, proposed *state.Release, now time.Time) (string, error) {
	id := ReleaseID(in.App, in.Environment, in.Digest)
	if proposed != nil && proposed.Digest == in.Digest && proposed.Rollback == in.Rollback {
		return proposed.ID, nil
	}
	stamp := now.UTC().Format("20060102T150405")
	if in.Rollback {
		return id + "#rollback-" + stamp, nil
	}
	existing, err := p.Releases.GetRelease(ctx, id)
	switch {
	case errors.Is(err, state.ErrNotFound):
		return id, nil
	case err != nil:
		return "", fmt.Errorf("reading release %s: %w", id, err)
	case existing.State == state.Proposed || existing.State == state.Skipped:
		return id, nil
	}
	return id + "#" + stamp, nil
}

// putRelease creates or overwrites a release, keeping its creation time.
func (p *Promoter) putRelease(ctx context.Context, r *state.Release) error {
	for attempt := 0; attempt < 5; attempt++ {
		existing, err := p.Releases.GetRelease(ctx, r.ID)
		switch {
		case errors.Is(err, state.ErrNotFound):
			r.Version = 0
		case err != nil:
			return err
		default:
			if existing.State == state.Merged && r.State != state.Merged {
				// The merge event won the race: never step a release back.
				*r = existing
				return nil
			}
			if r.State == state.Skipped && existing.State != state.Skipped {
				// A skip proposes nothing: it never hides what happened.
				*r = existing
				return nil
			}
			r.Version, r.CreatedAt = existing.Version, existing.CreatedAt
		}
		err = p.Releases.PutRelease(ctx, r)
		if !errors.Is(err, state.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("recording release %s: too many concurrent writers", r.ID)
}

// current returns the environment's released digest (the latest merge) and
// the open proposal, if any.
func current(rels []state.Release) (deployed, proposed *state.Release) {
	sort.SliceStable(rels, func(i, j int) bool { return rels[i].UpdatedAt.Before(rels[j].UpdatedAt) })
	for i := range rels {
		r := &rels[i]
		switch r.State {
		case state.Merged:
			if deployed == nil || r.MergedAt.After(deployed.MergedAt) || r.MergedAt.Equal(deployed.MergedAt) {
				deployed = r
			}
		case state.Proposed:
			proposed = r
		}
	}
	return deployed, proposed
}

func short(digest string) string {
	d := strings.TrimPrefix(digest, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return "sha256:" + d
}

func shortTag(in event.Promotion) string {
	if in.Tag != "" {
		return in.Tag + " (" + short(in.Digest) + ")"
	}
	return short(in.Digest)
}
