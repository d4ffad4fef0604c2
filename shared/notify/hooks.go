package notify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Promotions wraps the promotions queue's work: after each promotion it
// tells what happened (opened, updated, waiting, deferred, refused). The
// promotion's own result is returned unchanged.
func Promotions(p *promote.Promoter, n Notifier) consume.Func {
	return func(ctx context.Context, env *event.Envelope) error {
		if err := consume.Expect(env, event.KindPromotion); err != nil {
			return err
		}
		var in event.Promotion
		if err := env.DecodePayload(&in); err != nil {
			return retry.Permanent(err)
		}
		out, err := p.Promote(ctx, in)
		for _, ev := range promotionEvents(in, out, err) {
			ev.TraceID = env.TraceID
			n.Notify(ctx, ev)
		}
		return err
	}
}

func promotionEvents(in event.Promotion, out *promote.Outcome, err error) []Event {
	base := Event{App: in.App, Environment: in.Environment, Digest: in.Digest, Tag: in.Tag}
	key := func(parts ...string) string {
		return Key(append([]string{in.App, in.Environment, in.Digest}, parts...)...)
	}
	switch {
	case out != nil && out.Action == promote.Deferred:
		ev := base
		ev.Event, ev.Reason = config.NotifyDeferred, out.Reason
		// The window's end is fixed by its cron: every re-delivery of the
		// held promotion names the same one, and so the same key.
		ev.Until, _ = time.Parse(time.RFC3339, strings.TrimPrefix(out.Reason, "frozen until "))
		ev.Key = key(config.NotifyDeferred, ev.Until.UTC().Format(time.RFC3339))
		return []Event{ev}
	case err != nil && retry.IsPermanent(err):
		ev := base
		ev.Event, ev.Reason, ev.Key = config.NotifyRefused, logging.RedactError(err).Error(), key(config.NotifyRefused)
		return []Event{ev}
	case err != nil || out == nil || out.PR == nil:
		return nil
	case out.Action == promote.Opened || out.Action == promote.Updated:
		ev := base
		ev.Event, ev.PR, ev.PRURL = out.Action, out.PR.Number, out.PR.URL
		ev.Key = key(out.Action, strconv.Itoa(out.PR.Number))
		wait := ev
		wait.Event, wait.Key = config.NotifyWaiting, key(config.NotifyWaiting, strconv.Itoa(out.PR.Number))
		return []Event{ev, wait}
	}
	return nil
}

// Releases decorates a release store so that a release recorded as
// merged — the approval function's record of a merge, whoever merged — is
// told as released.
type Releases struct {
	state.Releases
	Notifier Notifier
}

// PutRelease records r, then tells a merge.
func (r *Releases) PutRelease(ctx context.Context, rel *state.Release) error {
	if err := r.Releases.PutRelease(ctx, rel); err != nil {
		return err
	}
	if rel.State == state.Merged {
		// The release keeps the trace of the change it carries; the merge
		// event's own trace is only the review's.
		trace := rel.TraceID
		if trace == "" {
			trace = logging.Trace(ctx)
		}
		r.Notifier.Notify(ctx, Event{Event: config.NotifyMerged, App: rel.App, Environment: rel.Env, Digest: rel.Digest, Tag: rel.Tag,
			PR: rel.PR, PRURL: rel.PRURL, TraceID: trace,
			Key: Key(rel.App, rel.Env, rel.Digest, config.NotifyMerged, strconv.Itoa(rel.PR))})
	}
	return nil
}

// DeadLetters returns a consume observer that tells each message the
// executor is about to dead-letter from queueName, with the command that
// replays it (selector selects the deployment, as in PR bodies).
func DeadLetters(n Notifier, queueName, selector string) func(context.Context, consume.Outcome, time.Duration) {
	return func(ctx context.Context, o consume.Outcome, _ time.Duration) {
		if o.Decision.Action != retry.DeadLetter || queueName == queue.Notifications {
			// A receiver's own dead letters are not told to receivers.
			return
		}
		n.Notify(ctx, deadLetterEvent(o.Message, queueName, o.Decision.Reason, selector))
	}
}

func deadLetterEvent(m queue.Message, queueName, reason, selector string) Event {
	ev := Event{Event: config.NotifyDeadLettered, Queue: queueName, Reason: reason, App: m.Attributes[queue.AttrApp],
		TraceID: m.Attributes[queue.AttrTraceID]}
	id := m.ID
	if env, err := event.Decode(m.Body); err == nil {
		id, ev.TraceID = env.ID, env.TraceID
		var p event.Promotion
		if env.Kind == event.KindPromotion && env.DecodePayload(&p) == nil {
			ev.App, ev.Environment, ev.Digest = p.App, p.Environment, p.Digest
		}
		// A replayed envelope that dies again is a new occurrence.
		id += "#" + strconv.Itoa(env.Replayed)
	}
	ev.Key = Key("dead", queueName, id)
	ev.Replay = strings.TrimSpace(fmt.Sprintf("conveyor replay redrive %s %s", strings.SplitN(id, "#", 2)[0], selector))
	return ev
}
