package promote

import (
	"context"
	"fmt"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/coalesce"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Superseded is the Action of a promotion skipped because newer work for
// its app and environment was waiting (see coalesce).
const Superseded = "superseded"

// coalesceKey is the coalescing key of app's promotions into env.
func coalesceKey(app, env string) string { return "promote/" + app + "/" + env }

// workOf is in as coalescing sees it. Rollbacks and overrides are an
// operator's explicit choice: they are never coalesced (ok false).
func workOf(in event.Promotion) (coalesce.Work, bool) {
	if in.Rollback || in.Force {
		return coalesce.Work{}, false
	}
	return coalesce.Work{Key: coalesceKey(in.App, in.Environment), ID: in.Digest, SourceRepo: in.Source,
		Revision: in.Revision, SourceTime: in.Created}, true
}

// coalesce decides whether pm goes ahead: it returns a non-nil outcome
// when newer work is waiting (the promotion is recorded superseded) or
// when pm is the newest but its settle window is still open (deferred
// through the queue until it ends).
func (p *Promoter) coalesce(ctx context.Context, pm *promotion, w coalesce.Work) (*Outcome, error) {
	c := coalesce.Coalescer{Store: p.Latest, Now: p.Now}
	newer := func(ctx context.Context, wanted state.Latest, w coalesce.Work) (bool, error) {
		r := &state.Release{Digest: wanted.Work, SourceRepo: wanted.SourceRepo, SourceCommit: wanted.Revision, SourceTime: wanted.SourceTime}
		return p.older(ctx, pm.app, r, pm.in, pm.log)
	}
	d, err := c.Decide(ctx, w, pm.env.Settle, newer)
	if err != nil {
		return nil, fmt.Errorf("coalescing %s into %s/%s: %w", short(pm.in.Digest), pm.in.App, pm.in.Environment, err)
	}
	switch d.Verdict {
	case coalesce.Wait:
		pm.log.InfoContext(ctx, "promotion settling: waits for newer work", "wait", d.Wait.String())
		return &Outcome{Action: Deferred, Reason: "settling for " + d.Wait.String()},
			retry.Defer(fmt.Errorf("settling %s/%s for %s", pm.in.App, pm.in.Environment, d.Wait), d.Wait)
	case coalesce.Supersede:
		return p.supersede(ctx, pm, d.Newer)
	}
	return nil, nil
}

// supersede records a promotion that newer waiting work replaces: never
// proposed, never lost from the history.
func (p *Promoter) supersede(ctx context.Context, pm *promotion, newer state.Latest) (*Outcome, error) {
	in := pm.in
	why := "superseded before proposal: newer work " + short(newer.Work) + " is waiting"
	id, err := p.releaseID(ctx, in, nil, pm.now)
	if err != nil {
		return nil, err
	}
	r := state.Release{ID: id, App: in.App, Env: in.Environment, Image: pm.app.Image, Digest: in.Digest, Tag: in.Tag, SourceRepo: in.Source,
		SourceCommit: in.Revision, SourceTime: in.Created, State: state.Superseded, Note: why, TraceID: logging.Trace(ctx)}
	if err := p.putRelease(ctx, &r); err != nil {
		return nil, err
	}
	pm.log.InfoContext(ctx, "promotion superseded", "by", newer.Work)
	return &Outcome{Action: Superseded, Release: r, Reason: why}, nil
}

// Announcer is the promotions queue as producers use it: each promotion
// it queues is then recorded as its app and environment's newest wanted
// work, so that older promotions still queued are superseded rather than
// proposed. It decorates the queue the registry and approval functions
// send to.
type Announcer struct {
	Next   queue.Sender
	Config ConfigSource
	Latest state.Latests
	Now    func() time.Time
}

// Send queues in, then records its promotion as wanted. Queueing first
// keeps the record from naming work that never reached the queue; a
// failed record fails the send, whose retry the queue deduplicates.
func (a *Announcer) Send(ctx context.Context, in queue.SendInput) (string, error) {
	id, err := a.Next.Send(ctx, in)
	if err != nil {
		return id, err
	}
	env, err := event.Decode(in.Body)
	if err != nil || env.Kind != event.KindPromotion {
		return id, nil
	}
	var pr event.Promotion
	if err := env.DecodePayload(&pr); err != nil {
		return id, nil
	}
	w, ok := workOf(pr)
	if !ok {
		return id, nil
	}
	cfg, err := a.Config.Load(ctx)
	if err != nil {
		return id, err
	}
	app, found := cfg.App(pr.App)
	if !found {
		return id, nil
	}
	e, _, found := app.Env(pr.Environment)
	if !found {
		return id, nil
	}
	c := coalesce.Coalescer{Store: a.Latest, Now: a.Now}
	if err := c.Want(ctx, w, e.Settle); err != nil {
		return id, fmt.Errorf("recording %s as wanted in %s/%s: %w", short(pr.Digest), pr.App, pr.Environment, err)
	}
	return id, nil
}
