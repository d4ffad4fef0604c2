package sqlitequeue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrNotDead means a message is not (or no longer) in a dead-letter queue:
// it was redriven already, deleted, or never existed. Redriving is
// idempotent through it.
var ErrNotDead = errors.New("message is not dead-lettered")

// Attributes Redrive sets on the message it moves back.
const (
	// AttrReplayed counts how many times the message was redriven.
	AttrReplayed = "replayed"
	// AttrReplayedFromError is the dead-letter reason of the latest
	// redrive, kept because the message's own last error is cleared.
	AttrReplayedFromError = "replayed_from_error"
)

// redriveSchema keeps one row per redrive: the reason each dead-lettering
// had, which the message itself forgets when it goes back to work.
var redriveSchema = []string{
	`CREATE TABLE IF NOT EXISTS queue_redrives (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		message_id TEXT NOT NULL,
		source_queue TEXT NOT NULL,
		reason TEXT NOT NULL,
		receive_count INTEGER NOT NULL,
		dead_at INTEGER NOT NULL,
		redriven_at INTEGER NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS queue_redrives_message ON queue_redrives(message_id, seq)`,
}

// Redriven is one earlier dead-lettering of a message that was redriven.
type Redriven struct {
	Reason       string
	ReceiveCount int
	DeadAt       time.Time
	RedrivenAt   time.Time
}

// RedriveOption configures one Redrive.
type RedriveOption func(*redriveOptions)

type redriveOptions struct {
	rewrite func([]byte) ([]byte, error)
}

// WithRewrite replaces the body with rewrite(body) in the same transaction
// as the move, e.g. to bump an envelope's replay counter. An error from
// rewrite aborts the redrive and leaves the message dead.
func WithRewrite(rewrite func(body []byte) ([]byte, error)) RedriveOption {
	return func(o *redriveOptions) { o.rewrite = rewrite }
}

// DeadLetter returns the dead-lettered message id, or ErrNotDead.
func (b *Broker) DeadLetter(ctx context.Context, id string) (DeadMessage, error) {
	d, err := b.deadLetter(ctx, b.db.SQL(), id)
	if err != nil {
		return DeadMessage{}, fmt.Errorf("reading dead letter %s: %w", id, err)
	}
	return d, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (b *Broker) deadLetter(ctx context.Context, db querier, id string) (DeadMessage, error) {
	var d DeadMessage
	var dlq, attrs string
	var sent, dead int64
	err := db.QueryRowContext(ctx, `SELECT id, queue, body, attributes, source_queue, last_error, first_error, receive_count, sent_at, dead_at
		FROM queue_messages WHERE id = ?`, id).Scan(&d.ID, &dlq, &d.Body, &attrs, &d.SourceQueue, &d.Reason, &d.FirstError, &d.ReceiveCount, &sent, &dead)
	if errors.Is(err, sql.ErrNoRows) {
		return DeadMessage{}, ErrNotDead
	}
	if err != nil {
		return DeadMessage{}, err
	}
	// A message is dead while it sits in its source queue's dead-letter
	// queue; a redriven one keeps no source queue.
	src, ok := b.queues[d.SourceQueue]
	if d.SourceQueue == "" || !ok || src.dlq != dlq {
		return DeadMessage{}, fmt.Errorf("%w: it is in %s", ErrNotDead, dlq)
	}
	if err := json.Unmarshal([]byte(attrs), &d.Attributes); err != nil {
		return DeadMessage{}, fmt.Errorf("decoding attributes: %w", err)
	}
	d.SentAt, d.DeadAt = time.UnixMilli(sent), time.UnixMilli(dead)
	return d, nil
}

// Redrive moves the dead-lettered message id back to its source queue, in
// one transaction: same id and body (unless WithRewrite), receive count 0,
// visible now, the dead-letter reason moved to the attribute
// replayed_from_error and to the redrive history, and the attribute
// replayed incremented. A message no longer dead gives ErrNotDead, so
// redriving twice moves it once.
func (b *Broker) Redrive(ctx context.Context, id string, opts ...RedriveOption) error {
	var o redriveOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := b.db.Migrate(ctx, redriveSchema...); err != nil {
		return fmt.Errorf("redriving %s: %w", id, err)
	}
	var source string
	err := b.db.Write(ctx, func(tx *sql.Tx) error {
		d, err := b.deadLetter(ctx, tx, id)
		if err != nil {
			return err
		}
		source = d.SourceQueue
		body := d.Body
		if o.rewrite != nil {
			if body, err = o.rewrite(body); err != nil {
				return fmt.Errorf("rewriting the body: %w", err)
			}
		}
		attrs := nonNil(d.Attributes)
		n, _ := strconv.Atoi(attrs[AttrReplayed])
		attrs[AttrReplayed] = strconv.Itoa(n + 1)
		attrs[AttrReplayedFromError] = d.Reason
		raw, err := json.Marshal(attrs)
		if err != nil {
			return fmt.Errorf("encoding attributes: %w", err)
		}
		now := b.nowMillis()
		if _, err := tx.ExecContext(ctx, `INSERT INTO queue_redrives(message_id, source_queue, reason, receive_count, dead_at, redriven_at)
			VALUES (?, ?, ?, ?, ?, ?)`, id, source, d.Reason, d.ReceiveCount, d.DeadAt.UnixMilli(), now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE queue_messages SET queue = ?, body = ?, attributes = ?, source_queue = '', dead_at = 0,
			receive_count = 0, first_received_at = 0, receipt = '', last_error = '', first_error = '', visible_at = ? WHERE id = ?`,
			source, body, string(raw), now, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("redriving %s: %w", id, err)
	}
	b.wake(source)
	return nil
}

// RedriveHistory lists the earlier dead-letterings of message id that were
// redriven, oldest first; empty for a message never redriven.
func (b *Broker) RedriveHistory(ctx context.Context, id string) ([]Redriven, error) {
	if err := b.db.Migrate(ctx, redriveSchema...); err != nil {
		return nil, fmt.Errorf("reading the redrive history of %s: %w", id, err)
	}
	rows, err := b.db.SQL().QueryContext(ctx, `SELECT reason, receive_count, dead_at, redriven_at FROM queue_redrives
		WHERE message_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("reading the redrive history of %s: %w", id, err)
	}
	defer rows.Close()
	var out []Redriven
	for rows.Next() {
		var r Redriven
		var dead, redriven int64
		if err := rows.Scan(&r.Reason, &r.ReceiveCount, &dead, &redriven); err != nil {
			return nil, fmt.Errorf("reading the redrive history of %s: %w", id, err)
		}
		r.DeadAt, r.RedrivenAt = time.UnixMilli(dead), time.UnixMilli(redriven)
		out = append(out, r)
	}
	return out, rows.Err()
}
