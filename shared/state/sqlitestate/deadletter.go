package sqlitestate

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/state"
)

const deadLetterSchema = `CREATE TABLE IF NOT EXISTS dead_letters (
	queue TEXT NOT NULL,
	id TEXT NOT NULL,
	body BLOB,
	body_size INTEGER NOT NULL DEFAULT 0,
	attributes TEXT NOT NULL DEFAULT '',
	reason TEXT NOT NULL DEFAULT '',
	receive_count INTEGER NOT NULL DEFAULT 0,
	sent_at INTEGER NOT NULL DEFAULT 0,
	dead_at INTEGER NOT NULL DEFAULT 0,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (queue, id)
)`

var _ state.DeadLetters = (*Store)(nil)

// PutDeadLetter implements state.DeadLetters.
func (s *Store) PutDeadLetter(ctx context.Context, d state.DeadLetter, retention time.Duration) error {
	attrs, err := json.Marshal(d.Attributes)
	if err != nil {
		return fmt.Errorf("recording dead letter %s/%s: %w", d.Queue, d.ID, err)
	}
	body, _ := state.CutBody(d.Body)
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := s.db.ExecTx(ctx, tx, `INSERT OR REPLACE INTO dead_letters(queue, id, body, body_size, attributes, reason, receive_count,
			sent_at, dead_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.Queue, d.ID, body, d.BodySize, string(attrs), d.Reason, d.ReceiveCount, millis(d.SentAt), millis(d.DeadAt),
			s.now().Add(retention).UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("recording dead letter %s/%s: %w", d.Queue, d.ID, err)
	}
	return nil
}

// DeleteDeadLetter implements state.DeadLetters.
func (s *Store) DeleteDeadLetter(ctx context.Context, queue, id string) error {
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := s.db.ExecTx(ctx, tx, `DELETE FROM dead_letters WHERE queue = ? AND id = ?`, queue, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("forgetting dead letter %s/%s: %w", queue, id, err)
	}
	return nil
}

// ListDeadLetters implements state.DeadLetters.
func (s *Store) ListDeadLetters(ctx context.Context, queue string) ([]state.DeadLetter, error) {
	rows, err := s.db.SQL().QueryContext(ctx, `SELECT queue, id, body, body_size, attributes, reason, receive_count, sent_at, dead_at, expires_at
		FROM dead_letters WHERE (? = '' OR queue = ?) AND expires_at > ? ORDER BY queue, dead_at, id`, queue, queue, s.now().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("listing dead-letter records: %w", err)
	}
	defer rows.Close()
	var out []state.DeadLetter
	for rows.Next() {
		var d state.DeadLetter
		var attrs string
		var sent, dead, exp int64
		if err := rows.Scan(&d.Queue, &d.ID, &d.Body, &d.BodySize, &attrs, &d.Reason, &d.ReceiveCount, &sent, &dead, &exp); err != nil {
			return nil, fmt.Errorf("listing dead-letter records: %w", err)
		}
		if attrs != "" && attrs != "null" {
			if err := json.Unmarshal([]byte(attrs), &d.Attributes); err != nil {
				return nil, fmt.Errorf("reading the attributes of dead letter %s/%s: %w", d.Queue, d.ID, err)
			}
		}
		d.SentAt, d.DeadAt, d.ExpiresAt = fromMillis(sent), fromMillis(dead), fromMillis(exp)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing dead-letter records: %w", err)
	}
	return out, nil
}
