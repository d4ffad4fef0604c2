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
}

var _ webhook.Committer = (*Committer)(nil)

// New starts a committer on db, whose queues and store are given. Close
// stops it, before db is closed.
func New(ctx context.Context, db *sqlitedb.DB, queues *sqlitequeue.Broker, store *sqlitestate.Store) (*Committer, error) {
	g, err := db.NewGroup(ctx, sqlitedb.DefaultGroupSize)
	if err != nil {
		return nil, err
	}
	return &Committer{group: g, queues: queues, store: store}, nil
}

// Close commits what was submitted and stops the committer.
func (c *Committer) Close() error { return c.group.Close() }

// Stats counts the transactions committed and the events they held.
func (c *Committer) Stats() sqlitedb.GroupStats { return c.group.Stats() }

// Commit implements webhook.Committer.
func (c *Committer) Commit(ctx context.Context, in webhook.Commit) (webhook.Committed, error) {
	q, err := c.queues.Queue(in.Queue)
	if err != nil {
		return webhook.Committed{}, err
	}
	// Encoded here, on the request's goroutine, not on the committer's.
	// A message the queue refuses still fails only where it is sent: a
	// duplicate of it answers duplicate.
	msg, encErr := q.Encode(in.Message)
	var out webhook.Committed
	err = c.group.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		out, err = c.apply(ctx, tx, msg, encErr, in)
		return err
	})
	switch {
	case errors.Is(err, webhook.ErrInProgress):
		return webhook.Committed{}, err
	case err != nil:
		return webhook.Committed{}, fmt.Errorf("committing the event of %s: %w", in.Keys, err)
	}
	if !out.Duplicate {
		q.Notify()
	}
	return out, nil
}

// apply checks the keys in order, as the ingress's claims do, then either
// enqueues and records the event or records the duplicate's result. The
// keys are read in one statement and recorded in one: the committer runs
// every event's statements on one goroutine, one after another.
func (c *Committer) apply(ctx context.Context, tx *sql.Tx, msg *sqlitequeue.Encoded, encErr error, in webhook.Commit) (webhook.Committed, error) {
	held, err := c.store.LiveKeysTx(ctx, tx, in.Keys)
	if err != nil {
		return webhook.Committed{}, err
	}
	for i, key := range in.Keys {
		rec, live := held[key]
		switch {
		case !live:
		case rec.Status == state.Completed:
			// The keys before it are the same event's (a replay under a
			// new delivery id): they answer duplicate too from now on.
			return webhook.Committed{Duplicate: true, Result: rec.Result},
				c.store.CompleteKeysTx(ctx, tx, in.Keys[:i], rec.Result, in.Retention)
		default:
			return webhook.Committed{}, webhook.ErrInProgress
		}
	}
	if encErr != nil {
		return webhook.Committed{}, encErr
	}
	if _, err := msg.SendTx(ctx, tx); err != nil {
		return webhook.Committed{}, err
	}
	return webhook.Committed{}, c.store.CompleteKeysTx(ctx, tx, in.Keys, in.Result, in.Retention)
}
