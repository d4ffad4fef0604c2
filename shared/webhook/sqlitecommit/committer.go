package sqlitecommit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

// Committer commits webhook events in groups. Its queues and store must
// live in the database it was built on.
type Committer struct {
	group  *sqlitedb.Group
	queues *sqlitequeue.Broker
	store  *sqlitestate.Store
	// batch applies the events that wait for the committer together.
	batch *batch
}

var _ webhook.Committer = (*Committer)(nil)

// New starts a committer on db, whose queues and store are given. Close
// stops it, before db is closed.
func New(ctx context.Context, db *sqlitedb.DB, queues *sqlitequeue.Broker, store *sqlitestate.Store) (*Committer, error) {
	g, err := db.NewGroup(ctx, sqlitedb.DefaultGroupSize)
	if err != nil {
		return nil, err
	}
	c := &Committer{group: g, queues: queues, store: store}
	c.batch = &batch{c}
	return c, nil
}

// Close commits what was submitted and stops the committer.
func (c *Committer) Close() error { return c.group.Close() }

// Stats counts the transactions committed and the events they held.
func (c *Committer) Stats() sqlitedb.GroupStats { return c.group.Stats() }

// item is one event on its way through the committer.
type item struct {
	in webhook.Commit
	// msg is encoded on the request's goroutine, not on the committer's.
	// A message the queue refuses (encErr) still fails only where it is
	// sent: a duplicate of it answers duplicate.
	msg    *sqlitequeue.Encoded
	encErr error
	out    webhook.Committed
}

// Commit implements webhook.Committer.
func (c *Committer) Commit(ctx context.Context, in webhook.Commit) (webhook.Committed, error) {
	q, err := c.queues.Queue(in.Queue)
	if err != nil {
		return webhook.Committed{}, err
	}
	it := &item{in: in}
	it.msg, it.encErr = q.Encode(in.Message)
	err = c.group.WriteBatched(ctx, c.batch, it, func(ctx context.Context, tx *sql.Tx) error {
		return c.apply(ctx, tx, it)
	})
	switch {
	case errors.Is(err, webhook.ErrInProgress):
		return webhook.Committed{}, err
	case err != nil:
		return webhook.Committed{}, fmt.Errorf("committing the event of %s: %w", in.Keys, err)
	}
	if !it.out.Duplicate {
		q.Notify()
	}
	return it.out, nil
}

// apply commits one event alone: when no other waits beside it, or when
// the batch it was in failed. It is the batch's own code, for one event.
func (c *Committer) apply(ctx context.Context, tx *sql.Tx, it *item) error {
	errs, err := c.batch.ApplyBatch(ctx, tx, []any{it})
	if err != nil {
		return err
	}
	return errs[0]
}

// batch commits the events waiting for the committer together: one read
// of all their keys, one insert of their messages and one of their keys,
// where each event alone costs the three (see sqlitedb.Batch).
type batch struct{ c *Committer }

func (b *batch) ApplyBatch(ctx context.Context, tx *sql.Tx, items []any) ([]error, error) {
	its := make([]*item, len(items))
	var keys []string
	for i, x := range items {
		its[i] = x.(*item)
		keys = append(keys, its[i].in.Keys...)
	}
	held, err := b.c.store.LiveKeysTx(ctx, tx, keys)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(its))
	var sends []*sqlitequeue.Encoded
	var done []sqlitestate.Completion
	for i, it := range its {
		d, err := decide(held, it)
		if err != nil {
			errs[i] = err
			continue
		}
		// What this event records, the ones after it in the batch see,
		// as they would had it committed before them.
		for _, k := range d.Keys {
			held[k] = state.Idem{Key: k, Status: state.Completed, Result: d.Result}
		}
		if !it.out.Duplicate {
			sends = append(sends, it.msg)
		}
		done = append(done, d)
	}
	if err := sqlitequeue.SendEachTx(ctx, tx, sends); err != nil {
		return nil, err
	}
	if err := b.c.store.CompleteEachTx(ctx, tx, done); err != nil {
		return nil, err
	}
	return errs, nil
}

// decide checks it's keys in order, as the ingress's claims do, against
// held, the live records by key. It sets it.out and returns the keys to
// complete, or the event's own error: another request holds a key, or the
// queue refuses its message. A new event is to be sent; a duplicate is
// not, and its keys before the recorded one take the recorded result, so
// that they answer duplicate too from now on (a replay under a new
// delivery id).
func decide(held map[string]state.Idem, it *item) (sqlitestate.Completion, error) {
	in := it.in
	for i, key := range in.Keys {
		rec, live := held[key]
		switch {
		case !live:
		case rec.Status == state.Completed:
			it.out = webhook.Committed{Duplicate: true, Result: rec.Result}
			return sqlitestate.Completion{Keys: in.Keys[:i], Result: rec.Result, Retention: in.Retention}, nil
		default:
			return sqlitestate.Completion{}, webhook.ErrInProgress
		}
	}
	if it.encErr != nil {
		return sqlitestate.Completion{}, it.encErr
	}
	it.out = webhook.Committed{}
	return sqlitestate.Completion{Keys: in.Keys, Result: in.Result, Retention: in.Retention}, nil
}
