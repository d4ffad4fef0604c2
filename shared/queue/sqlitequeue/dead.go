package sqlitequeue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// DeadMessage is a message in a dead-letter queue, read without receiving
// it (its receive count is the source queue's).
type DeadMessage struct {
	ID          string
	Body        []byte
	Attributes  map[string]string
	SourceQueue string
	Reason      string
	// FirstError is the reason of the first failed attempt; Reason the last.
	FirstError   string
	ReceiveCount int
	SentAt       time.Time
	DeadAt       time.Time
}

// DeadLetters lists the dead-letter queue of work queue source, oldest
// first, without changing anything.
func (b *Broker) DeadLetters(ctx context.Context, source string) ([]DeadMessage, error) {
	q, err := b.Queue(source)
	if err != nil {
		return nil, err
	}
	rows, err := b.db.SQL().QueryContext(ctx, `SELECT id, body, attributes, source_queue, last_error, first_error, receive_count, sent_at, dead_at
		FROM queue_messages WHERE queue = ? ORDER BY dead_at, seq`, q.dlq)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", q.dlq, err)
	}
	defer rows.Close()
	var out []DeadMessage
	for rows.Next() {
		var d DeadMessage
		var attrs string
		var sent, dead int64
		if err := rows.Scan(&d.ID, &d.Body, &attrs, &d.SourceQueue, &d.Reason, &d.FirstError, &d.ReceiveCount, &sent, &dead); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(attrs), &d.Attributes); err != nil {
			return nil, fmt.Errorf("decoding attributes of %s: %w", d.ID, err)
		}
		d.SentAt, d.DeadAt = time.UnixMilli(sent), time.UnixMilli(dead)
		out = append(out, d)
	}
	return out, rows.Err()
}
