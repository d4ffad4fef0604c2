package sqlitequeue

import (
	"context"
	"fmt"
)

// Stats counts a queue's messages the way SQS's approximate counters do.
type Stats struct {
	// Visible messages can be received now.
	Visible int `json:"visible"`
	// InFlight messages were received and are hidden by their visibility
	// timeout (or by a retry backoff).
	InFlight int `json:"inflight"`
	// Delayed messages were sent with a delay and never received yet.
	Delayed int `json:"delayed"`
	// Dead messages sit in the queue's dead-letter queue.
	Dead int `json:"dead"`
}

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
