package promote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/registry"
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
	Inspect func(ctx context.Context, ref string) (*registry.Provenance, error)
	// Provenance verifies an image's provenance (an attest.Verifier's
	// Verify) for environments that require it; its error matches
	// attest.ErrNoProvenance when the image has none that is valid.
	Provenance func(ctx context.Context, ref string) (*attest.Verified, error)
	Log        *slog.Logger
	Now        func() time.Time
	// Ancestry reads source history to order releases; without it, build
	// times do (see older).
	Ancestry Ancestry
	// Selector selects this deployment in the `conveyor rollback` command
	// pull request bodies print ("--stack NAME" on AWS; see StackSelector).
	Selector string
	// FetchRemoteBases lets the pre-PR Kustomize render fetch the remote
	// bases (git or http(s) URLs) an overlay names, as kustomize build
	// would. Off by default: the render then reads nothing but the GitOps
	// repository, and an overlay with a remote base is refused, naming it.
	FetchRemoteBases bool
	// Latest holds the newest wanted promotion of each app and
	// environment (see Announcer): with it, a promotion that newer work
	// has overtaken is skipped as superseded, and one waits for its
	// environment's settle window. Nil: every promotion proceeds.
	Latest state.Latests
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
	case existing.State == state.Proposed || unproposed(existing):
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
			if unproposed(*r) && !unproposed(existing) {
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

// unproposed reports whether r was never proposed: skipped as older, or
// superseded by newer work before its proposal.
func unproposed(r state.Release) bool {
	return r.State == state.Skipped || r.State == state.Superseded && r.PR == 0
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
