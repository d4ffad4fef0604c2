package promote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Ancestry answers from a source repository's history whether ancestor is
// an ancestor of (or the same commit as) descendant. A commit the history
// does not hold is an ancestor of nothing: (false, nil). An adapter that
// cannot read repo's kind of location returns an error wrapping
// errors.ErrUnsupported.
type Ancestry interface {
	IsAncestor(ctx context.Context, repo, ancestor, descendant string) (bool, error)
}

// clockSkew is how far in the future a build time may lie and still count
// as evidence of order when no history can be read.
const clockSkew = 5 * time.Minute

// outdated returns why the promotion must not replace what the environment
// runs or is getting ("" when it may), deciding "newer" by source history.
func (p *Promoter) outdated(ctx context.Context, app *config.App, in event.Promotion, deployed, proposed *state.Release, log *slog.Logger) (string, error) {
	if deployed != nil {
		older, err := p.older(ctx, app, deployed, in, log)
		if err != nil || older {
			return "older than the released " + short(deployed.Digest), err
		}
	}
	if proposed != nil && proposed.Digest != in.Digest {
		older, err := p.older(ctx, app, proposed, in, log)
		if err != nil || older {
			return "older than the proposed " + short(proposed.Digest), err
		}
	}
	return "", nil
}

// older reports whether the promotion is of an earlier revision than
// release r. Both must come from the app's configured source repository,
// with known revisions, for history to decide: a descendant of r (or r's
// own commit) is newer; an ancestor is older; unrelated commits (a
// force-push) proceed. Provenance from anywhere else is the pusher's word:
// build times decide only when an image is of unknown origin.
func (p *Promoter) older(ctx context.Context, app *config.App, r *state.Release, in event.Promotion, log *slog.Logger) (bool, error) {
	repo := app.Source.Repo
	fromSource := func(src, rev string) bool { return repo != "" && config.SameRepo(repo, src) && isCommit(rev) }
	switch {
	case !fromSource(r.SourceRepo, r.SourceCommit) || !fromSource(in.Source, in.Revision):
		return p.laterBuild(r, in), nil
	case p.Ancestry == nil:
		log.WarnContext(ctx, "no source history configured: ordering by build time")
		return p.laterBuild(r, in), nil
	}
	descends, err := p.Ancestry.IsAncestor(ctx, repo, r.SourceCommit, in.Revision)
	if err == nil && !descends {
		var ancestor bool
		if ancestor, err = p.Ancestry.IsAncestor(ctx, repo, in.Revision, r.SourceCommit); err == nil && !ancestor {
			log.WarnContext(ctx, "revisions unrelated in source history (force-push or unknown commit): proceeding",
				"revision", in.Revision, "against", r.SourceCommit)
		}
		descends = !ancestor
	}
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		log.WarnContext(ctx, "source history unreadable for this repository: ordering by build time", "repo", repo, "error", err.Error())
		return p.laterBuild(r, in), nil
	case err != nil:
		// Never a silent skip: the message waits for history to answer
		// (or dead-letters with the reason when the adapter says no retry helps).
		return false, fmt.Errorf("reading the source history of %s: %w", repo, err)
	}
	return !descends, nil
}

// laterBuild is the fallback order: release r's build time is after the
// promotion's. A time in the future is a skewed clock or a forgery, never
// evidence.
func (p *Promoter) laterBuild(r *state.Release, in event.Promotion) bool {
	if r.SourceTime.IsZero() || in.Created.IsZero() || r.SourceTime.After(p.Now().Add(clockSkew)) {
		return false
	}
	return r.SourceTime.After(in.Created)
}

// isCommit reports whether rev is a full git object name (SHA-1 or
// SHA-256): anything else cannot be looked up, and never reaches a URL.
func isCommit(rev string) bool {
	if len(rev) != 40 && len(rev) != 64 {
		return false
	}
	for _, c := range rev {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// overrideNote records who overrode the ordering check, and why.
func overrideNote(in event.Promotion) string {
	by := in.By
	if by == "" {
		by = "an unnamed operator"
	}
	return "override by " + by + ": " + in.Reason
}
