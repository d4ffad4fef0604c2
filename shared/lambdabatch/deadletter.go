package lambdabatch

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Option changes how New settles records.
type Option func(*options)

type options struct {
	dead       state.DeadLetters
	visibility time.Duration
}

// WithDeadLetters records every message the handler dead-letters in
// records (state.DeadLetters), so that it can be read without receiving
// it from the dead-letter queue. A message at its final receive is also
// recorded before it is processed, as dead once visibility (the queue's
// visibility timeout) has passed: if the invocation ends without settling
// it (a crash, a timeout), SQS's redrive policy moves it then. Settling it
// any other way forgets that record. When records also keeps failure
// reasons (sqsqueue.Reasons), that record carries the last one.
func WithDeadLetters(records state.DeadLetters, visibility time.Duration) Option {
	return func(o *options) { o.dead, o.visibility = records, visibility }
}

// recorder writes dead-letter records. Writing one is a view of what the
// dead-letter queue holds, never part of settling: a failed write is
// logged, and the queue's counters still show the message.
type recorder struct {
	options
	queue       string
	maxReceives int
	log         *slog.Logger
}

// final reports whether m is at its final receive: after it, SQS's
// redrive policy moves it to the dead-letter queue.
func (r *recorder) final(m queue.Message) bool {
	return r.dead != nil && r.maxReceives > 0 && m.ReceiveCount >= r.maxReceives
}

// ahead records the messages at their final receive as dead from when
// their visibility ends, with the last failure recorded for each.
func (r *recorder) ahead(ctx context.Context, msgs []queue.Message, ids []string) {
	var final []int
	for i, m := range msgs {
		if r.final(m) {
			final = append(final, i)
		}
	}
	if len(final) == 0 {
		return
	}
	last := map[string]string{}
	if reasons, ok := r.dead.(sqsqueue.Reasons); ok {
		lookup := make([]string, len(final))
		for j, i := range final {
			lookup[j] = ids[i]
		}
		var err error
		if last, err = reasons.Reasons(ctx, lookup); err != nil {
			r.log.WarnContext(ctx, "looking up failure reasons for dead-letter records", "error", err.Error())
		}
	}
	for _, i := range final {
		m := msgs[i]
		reason := fmt.Sprintf("received %d times (max %d); the last receive ended unsettled (the function crashed or timed out, "+
			"or an earlier message of its FIFO group held it back), so SQS's redrive policy moved it", m.ReceiveCount, r.maxReceives)
		if l := last[ids[i]]; l != "" {
			reason += "; last recorded failure: " + l
		}
		r.put(ctx, m, m.ID, reason, time.Now().Add(r.visibility))
	}
}

// settled updates the records of a message the handler settled: the
// dead-lettered one is recorded with its reason under the id the
// dead-letter queue reports (the delivery's), and the final receive's
// record (under the message's own id) is forgotten unless that is the
// same record.
func (r *recorder) settled(ctx context.Context, m queue.Message, own string, final bool, a action) {
	if r.dead == nil {
		return
	}
	if a.deadLettered {
		r.put(ctx, m, a.id, a.reason, time.Now())
	}
	if final && (!a.deadLettered || a.id != own) {
		if err := r.dead.DeleteDeadLetter(ctx, r.queue, own); err != nil {
			r.log.WarnContext(ctx, "forgetting a dead-letter record", "message_id", own, "error", err.Error())
		}
	}
}

// action is what settling did, as the recorder needs it.
type action struct {
	deadLettered bool
	// id is the message's id as the dead-letter queue reports it.
	id     string
	reason string
}

func (r *recorder) put(ctx context.Context, m queue.Message, id, reason string, at time.Time) {
	body, size := state.CutBody(m.Body)
	d := state.DeadLetter{Queue: r.queue, ID: id, Body: body, BodySize: size, Attributes: m.Attributes, Reason: reason,
		ReceiveCount: m.ReceiveCount, SentAt: m.SentAt, DeadAt: at.UTC()}
	if err := r.dead.PutDeadLetter(ctx, d, sqsqueue.DeadLetterRetention); err != nil {
		r.log.WarnContext(ctx, "recording a dead letter", "message_id", id, "error", err.Error())
	}
}
