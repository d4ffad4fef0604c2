package replay

import (
	"context"
	"fmt"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Recorded lists dead letters from their records in the state store
// (written by lambdabatch when a function dead-letters a message), never
// from the dead-letter queues: on SQS, listing a queue receives its
// messages and hides them, which a read-only page must not do. It cannot
// redrive; the SQS Dead forgets a record when it moves its message.
type Recorded struct {
	records state.DeadLetters
	now     func() time.Time
}

// NewRecorded returns the lister of records.
func NewRecorded(records state.DeadLetters) *Recorded {
	return &Recorded{records: records, now: time.Now}
}

// List returns the dead letters recorded for work queue name ("" for
// every queue), oldest first per queue. A record written ahead of a move
// by SQS's redrive policy is left out until that move can have happened.
func (r *Recorded) List(ctx context.Context, name string) ([]Record, error) {
	ds, err := r.records.ListDeadLetters(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("listing dead letters: %w", err)
	}
	now := r.now()
	out := make([]Record, 0, len(ds))
	for _, d := range ds {
		if d.DeadAt.After(now) {
			continue
		}
		out = append(out, fromStored(d))
	}
	return out, nil
}

func fromStored(d state.DeadLetter) Record {
	rec := newRecord(d.ID, d.Queue, d.Body, d.Attributes)
	rec.Reason, rec.ReceiveCount, rec.SentAt, rec.DeadAt = d.Reason, d.ReceiveCount, d.SentAt, d.DeadAt
	if d.BodySize > len(d.Body) {
		rec.BodySize = d.BodySize
	}
	return rec
}
