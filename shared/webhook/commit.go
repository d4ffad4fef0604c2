package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// ErrInProgress means another request holds one of an event's idempotency
// keys: the same delivery is being processed (answered 409, retry shortly).
var ErrInProgress = errors.New("the same delivery is being processed; retry shortly")

// Committer records an accepted event and its idempotency keys in one
// durable step, for a runtime whose queue and idempotency store share a
// database (the local runtime). Without one the ingress claims each key,
// sends, then completes each key, which is what SQS and DynamoDB allow.
type Committer interface {
	// Commit enqueues c.Message and records c.Result under every key, all
	// or nothing, and returns once that is durable. When a key already
	// holds a completed record it enqueues nothing, records that record's
	// result under the keys that hold none, and returns it as a duplicate.
	// A key held in progress is ErrInProgress.
	Commit(ctx context.Context, c Commit) (Committed, error)
}

// Commit is one event to commit.
type Commit struct {
	// Keys are the event's idempotency keys, in the order they are checked.
	Keys []string
	// Queue names the queue the event goes to (queue.Builds, …).
	Queue   string
	Message queue.SendInput
	// Result is remembered under every key, replayed to duplicates, for
	// Retention.
	Result    []byte
	Retention time.Duration
}

// Committed is a Commit's outcome.
type Committed struct {
	// Duplicate says a key already recorded the event: nothing was
	// enqueued and Result is what the key recorded.
	Duplicate bool
	Result    []byte
}

// commit is enqueue through the Committer.
func (in *Ingress) commit(ctx context.Context, keys []string, kind event.Kind, source, delivery string, payload any) (enqueued, error) {
	env, msg, err := in.message(kind, source, delivery, payload)
	if err != nil {
		return enqueued{}, err
	}
	res := enqueued{status: "accepted", ID: env.ID, TraceID: env.TraceID}
	result, _ := json.Marshal(res)
	c, err := in.cfg.Committer.Commit(ctx, Commit{Keys: keys, Queue: queueOf(kind), Message: msg, Result: result, Retention: in.cfg.DedupeRetention})
	switch {
	case errors.Is(err, ErrInProgress):
		return enqueued{}, err
	case err != nil:
		return enqueued{}, fmt.Errorf("%w: %v", errUnavailable, err)
	case c.Duplicate:
		var prev enqueued
		_ = json.Unmarshal(c.Result, &prev)
		prev.status = "duplicate"
		return prev, nil
	}
	in.cfg.Logger.InfoContext(logging.WithTrace(ctx, env.TraceID), "webhook accepted",
		"source", source, "kind", string(kind), "delivery_id", delivery, "envelope_id", env.ID)
	return res, nil
}

// message builds the envelope of an event and the message that carries it.
func (in *Ingress) message(kind event.Kind, source, delivery string, payload any) (*event.Envelope, queue.SendInput, error) {
	env, err := event.New(kind, source, delivery, "", payload, in.cfg.Now())
	if err != nil {
		return nil, queue.SendInput{}, fmt.Errorf("%w: %v", errUnavailable, err)
	}
	body, err := env.Encode()
	if errors.Is(err, event.ErrTooLarge) {
		return nil, queue.SendInput{}, err
	}
	if err != nil {
		return nil, queue.SendInput{}, fmt.Errorf("%w: %v", errUnavailable, err)
	}
	attrs := map[string]string{queue.AttrKind: string(kind), queue.AttrTraceID: env.TraceID}
	return env, queue.SendInput{Body: body, Attributes: attrs}, nil
}

// queueOf names the queue an event of kind goes to.
func queueOf(kind event.Kind) string {
	switch kind {
	case event.KindReview:
		return queue.Approvals
	case event.KindImage:
		return queue.Images
	}
	return queue.Builds
}

// sender is the Queues entry for the queue queueOf names.
func (qs Queues) sender(kind event.Kind) Sender {
	switch queueOf(kind) {
	case queue.Approvals:
		return qs.Approvals
	case queue.Images:
		return qs.Images
	}
	return qs.Builds
}
