package sqlitequeue

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// Stats counts a queue's messages (queue.Stats, shared with the SQS
// adapter's counters).
type Stats = queue.Stats

// Stats returns the counters of one work queue, Dead counting its
// dead-letter queue.
func (b *Broker) Stats(ctx context.Context, name string) (Stats, error) {
	q, err := b.Queue(name)
	if err != nil {
		return Stats{}, err
	}
	now := b.nowMillis()
	var s Stats
	row := b.db.SQL().QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN visible_at <= ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN visible_at > ? AND receive_count > 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN visible_at > ? AND receive_count = 0 THEN 1 ELSE 0 END), 0)
		FROM queue_messages WHERE queue = ?`, now, now, now, q.name)
	if err := row.Scan(&s.Visible, &s.InFlight, &s.Delayed); err != nil {
		return Stats{}, fmt.Errorf("counting %s: %w", name, err)
	}
	if q.dlq != "" {
		row := b.db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM queue_messages WHERE queue = ?`, q.dlq)
		if err := row.Scan(&s.Dead); err != nil {
			return Stats{}, fmt.Errorf("counting %s: %w", q.dlq, err)
		}
	}
	return s, nil
}

// OldestAge returns how long the oldest message of work queue name has
// waited since it was sent, 0 when the queue is empty: SQS's
// ApproximateAgeOfOldestMessage.
func (b *Broker) OldestAge(ctx context.Context, name string) (time.Duration, error) {
	q, err := b.Queue(name)
	if err != nil {
		return 0, err
	}
	var oldest sql.NullInt64
	row := b.db.SQL().QueryRowContext(ctx, `SELECT MIN(sent_at) FROM queue_messages WHERE queue = ?`, q.name)
	if err := row.Scan(&oldest); err != nil {
		return 0, fmt.Errorf("reading the oldest message of %s: %w", name, err)
	}
	if !oldest.Valid {
		return 0, nil
	}
	return max(time.Duration(b.nowMillis()-oldest.Int64)*time.Millisecond, 0), nil
}
