package sqlitequeue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
)

// Queue is one embedded queue.
type Queue struct {
	b           *Broker
	name        string
	fifo        bool
	maxReceives int
	dlq         string
}

var _ queue.Queue = (*Queue)(nil)

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// FIFO reports whether the queue orders messages by group.
func (q *Queue) FIFO() bool { return q.fifo }

// Send enqueues a message durably: it is on disk when Send returns.
func (q *Queue) Send(ctx context.Context, in queue.SendInput) (string, error) {
	m, err := q.Encode(in)
	if err != nil {
		return "", err
	}
	var id string
	err = q.b.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = m.sendTx(ctx, tx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("sending to %s: %w", q.name, err)
	}
	q.Notify()
	return id, nil
}

// SendTx enqueues a message inside tx, a write transaction of the broker's
// database, so that a caller can commit it together with other writes
// (the ingress's idempotency records). The message exists once tx
// commits; the caller then calls Notify.
func (q *Queue) SendTx(ctx context.Context, tx *sql.Tx, in queue.SendInput) (string, error) {
	m, err := q.Encode(in)
	if err != nil {
		return "", err
	}
	return m.SendTx(ctx, tx)
}

// Encoded is a message checked and encoded for its queue, ready to be
// sent in a transaction.
type Encoded struct {
	q     *Queue
	in    queue.SendInput
	attrs string
}

// Encode checks in and encodes what SendTx would, so that a caller whose
// transactions run one after another (the ingress's group committer) does
// that work on its own goroutine beforehand.
func (q *Queue) Encode(in queue.SendInput) (*Encoded, error) {
	if err := q.check(in); err != nil {
		return nil, fmt.Errorf("sending to %s: %w", q.name, err)
	}
	attrs, err := json.Marshal(nonNil(in.Attributes))
	if err != nil {
		return nil, fmt.Errorf("sending to %s: encoding attributes: %w", q.name, err)
	}
	return &Encoded{q: q, in: in, attrs: string(attrs)}, nil
}

// SendTx is Queue.SendTx of the message m encodes.
func (m *Encoded) SendTx(ctx context.Context, tx *sql.Tx) (string, error) {
	id, err := m.sendTx(ctx, tx)
	if err != nil {
		return "", fmt.Errorf("sending to %s: %w", m.q.name, err)
	}
	return id, nil
}

// SendEachTx sends msgs, in order, in tx: those without a deduplication
// id in as few statements as sqlitedb.Chunks allows, the others one by
// one, since each must first look for the message its id already sent.
// Each queue's receivers are to be notified once tx commits.
func SendEachTx(ctx context.Context, tx *sql.Tx, msgs []*Encoded) error {
	for len(msgs) > 0 {
		if msgs[0].in.DedupeID != "" {
			if _, err := msgs[0].SendTx(ctx, tx); err != nil {
				return err
			}
			msgs = msgs[1:]
			continue
		}
		n := 1
		for n < len(msgs) && msgs[n].in.DedupeID == "" && msgs[n].q.b == msgs[0].q.b {
			n++
		}
		if err := insertEach(ctx, tx, msgs[:n]); err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

// insertEach inserts msgs, none with a deduplication id, all of one broker.
func insertEach(ctx context.Context, tx *sql.Tx, msgs []*Encoded) error {
	b := msgs[0].q.b
	now := b.nowMillis()
	return sqlitedb.Chunks(len(msgs), func(lo, hi int) error {
		const row = `(?, ?, ?, ?, '', ?, ?, ?)`
		q := `INSERT INTO queue_messages(id, queue, body, group_id, dedupe_id, attributes, sent_at, visible_at) VALUES ` +
			strings.Repeat(row+`, `, hi-lo-1) + row
		args := make([]any, 0, 7*(hi-lo))
		for _, m := range msgs[lo:hi] {
			args = append(args, event.NewID(), m.q.name, m.in.Body, m.in.GroupID, m.attrs, now, now+m.in.Delay.Milliseconds())
		}
		if _, err := b.db.ExecTx(ctx, tx, q, args...); err != nil {
			return fmt.Errorf("sending %d messages: %w", hi-lo, err)
		}
		return nil
	})
}

// check refuses what the queue would refuse whenever it is sent.
func (q *Queue) check(in queue.SendInput) error {
	if len(in.Body) > queue.MaxBodySize {
		return fmt.Errorf("%w: %d bytes, limit %d", queue.ErrTooLarge, len(in.Body), queue.MaxBodySize)
	}
	if q.fifo && in.GroupID == "" {
		return queue.ErrNoGroup
	}
	return nil
}

func (m *Encoded) sendTx(ctx context.Context, tx *sql.Tx) (string, error) {
	q, in := m.q, m.in
	id := event.NewID()
	now := q.b.nowMillis()
	if in.DedupeID != "" {
		var existing string
		err := q.b.db.QueryRowTx(ctx, tx, `SELECT message_id FROM queue_dedupe WHERE queue = ? AND dedupe_id = ? AND expires_at > ?`,
			[]any{q.name, in.DedupeID, now}, &existing)
		switch {
		case err == nil:
			return existing, nil
		case !errors.Is(err, sql.ErrNoRows):
			return "", err
		}
		if _, err := q.b.db.ExecTx(ctx, tx, `INSERT INTO queue_dedupe(queue, dedupe_id, message_id, expires_at) VALUES (?, ?, ?, ?)
			ON CONFLICT(queue, dedupe_id) DO UPDATE SET message_id = excluded.message_id, expires_at = excluded.expires_at`,
			q.name, in.DedupeID, id, now+queue.DedupeWindow.Milliseconds()); err != nil {
			return "", err
		}
	}
	_, err := q.b.db.ExecTx(ctx, tx, `INSERT INTO queue_messages(id, queue, body, group_id, dedupe_id, attributes, sent_at, visible_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id, q.name, in.Body, in.GroupID, in.DedupeID, m.attrs, now, now+in.Delay.Milliseconds())
	return id, err
}

// Notify wakes this process's receivers of the queue, after a SendTx
// committed.
func (q *Queue) Notify() { q.b.wake(q.name) }

// Receive returns up to max visible messages and hides them for
// visibility. Messages that already reached the maximum receive count move
// to the dead-letter queue instead of being returned.
func (q *Queue) Receive(ctx context.Context, max int, visibility time.Duration) ([]queue.Message, error) {
	if max <= 0 {
		max = 1
	}
	var out []queue.Message
	err := q.b.db.Write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		now := q.b.nowMillis()
		// A few rounds: dead-lettering frees the batch slots it used.
		for round := 0; round < 4 && len(out) < max; round++ {
			cands, err := q.candidates(ctx, tx, now, max-len(out))
			if err != nil {
				return err
			}
			if len(cands) == 0 {
				break
			}
			dead := 0
			for _, m := range cands {
				if q.maxReceives > 0 && m.ReceiveCount >= q.maxReceives {
					reason := m.LastError
					if reason == "" {
						reason = "no reason recorded"
					}
					reason = fmt.Sprintf("received %d times (max %d); last error: %s", m.ReceiveCount, q.maxReceives, reason)
					if err := q.moveToDead(ctx, tx, m.ID, reason, now); err != nil {
						return err
					}
					dead++
					continue
				}
				m.ReceiptHandle = m.ID + "." + event.NewID()
				m.ReceiveCount++
				if m.FirstReceivedAt.IsZero() {
					m.FirstReceivedAt = time.UnixMilli(now)
				}
				if _, err := tx.ExecContext(ctx, `UPDATE queue_messages SET receive_count = ?, first_received_at = ?, receipt = ?, visible_at = ?,
					settled = 0 WHERE id = ?`,
					m.ReceiveCount, m.FirstReceivedAt.UnixMilli(), m.ReceiptHandle, now+visibility.Milliseconds(), m.ID); err != nil {
					return err
				}
				out = append(out, m)
			}
			if dead == 0 {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("receiving from %s: %w", q.name, err)
	}
	if len(out) == 0 {
		return []queue.Message{}, nil
	}
	return out, nil
}

const columns = `id, body, group_id, dedupe_id, attributes, receive_count, sent_at, first_received_at, last_error`

func (q *Queue) candidates(ctx context.Context, tx *sql.Tx, now int64, limit int) ([]queue.Message, error) {
	var rows *sql.Rows
	var err error
	if q.fifo {
		// Only each group's oldest message is eligible, and only when it
		// is visible: an in-flight head blocks its group.
		rows, err = tx.QueryContext(ctx, `SELECT `+columns+` FROM queue_messages
			WHERE seq IN (SELECT MIN(seq) FROM queue_messages WHERE queue = ? GROUP BY group_id)
			AND visible_at <= ? ORDER BY seq LIMIT ?`, q.name, now, limit)
	} else {
		rows, err = tx.QueryContext(ctx, `SELECT `+columns+` FROM queue_messages
			WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?`, q.name, now, limit)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []queue.Message
	for rows.Next() {
		m, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(...any) error }

func scan(r scanner) (queue.Message, error) {
	var m queue.Message
	var attrs string
	var sent, first int64
	if err := r.Scan(&m.ID, &m.Body, &m.GroupID, &m.DedupeID, &attrs, &m.ReceiveCount, &sent, &first, &m.LastError); err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(attrs), &m.Attributes); err != nil {
		return m, fmt.Errorf("decoding attributes of %s: %w", m.ID, err)
	}
	m.SentAt = time.UnixMilli(sent)
	if first != 0 {
		m.FirstReceivedAt = time.UnixMilli(first)
	}
	return m, nil
}

func (q *Queue) moveToDead(ctx context.Context, tx *sql.Tx, id, reason string, now int64) error {
	if q.dlq == "" {
		return fmt.Errorf("%s has no dead-letter queue", q.name)
	}
	_, err := tx.ExecContext(ctx, `UPDATE queue_messages SET queue = ?, source_queue = ?, last_error = ?, dead_at = ?, visible_at = ?, receipt = '',
		first_error = CASE WHEN first_error = '' THEN ? ELSE first_error END WHERE id = ?`,
		q.dlq, q.name, reason, now, now, reason, id)
	return err
}

// owned runs fn on the message a receipt handle names, if the receipt still
// owns it. It reports false when the message no longer exists.
func (q *Queue) owned(ctx context.Context, receipt string, fn func(tx *sql.Tx, id string, now int64) error) error {
	id, _, ok := strings.Cut(receipt, ".")
	if !ok {
		return fmt.Errorf("%w: %q is not a receipt handle", queue.ErrStaleReceipt, receipt)
	}
	return q.b.db.Write(ctx, func(tx *sql.Tx) error {
		var current string
		err := tx.QueryRowContext(ctx, `SELECT receipt FROM queue_messages WHERE id = ? AND queue = ?`, id, q.name).Scan(&current)
		if errors.Is(err, sql.ErrNoRows) {
			return errGone
		}
		if err != nil {
			return err
		}
		if current != receipt {
			return fmt.Errorf("%w: message %s was received again", queue.ErrStaleReceipt, id)
		}
		return fn(tx, id, q.b.nowMillis())
	})
}

var errGone = errors.New("message gone")

// Delete removes a received message. A message already deleted is not an
// error; a message received again by someone else is ErrStaleReceipt.
func (q *Queue) Delete(ctx context.Context, receipt string) error {
	err := q.owned(ctx, receipt, func(tx *sql.Tx, id string, _ int64) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM queue_messages WHERE id = ?`, id)
		return err
	})
	if err != nil && !errors.Is(err, errGone) {
		return fmt.Errorf("deleting from %s: %w", q.name, err)
	}
	return nil
}

// ChangeVisibility makes a received message visible again after d.
func (q *Queue) ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	err := q.owned(ctx, receipt, func(tx *sql.Tx, id string, now int64) error {
		_, err := tx.ExecContext(ctx, `UPDATE queue_messages SET visible_at = ?, settled = 1 WHERE id = ?`, now+d.Milliseconds(), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("changing visibility in %s: %w", q.name, err)
	}
	return nil
}

// Renew keeps a received message hidden for d more while its consumer
// still works on it. Unlike ChangeVisibility it does not settle the
// receive: if the consumer dies before settling, the next receive knows.
func (q *Queue) Renew(ctx context.Context, receipt string, d time.Duration) error {
	err := q.owned(ctx, receipt, func(tx *sql.Tx, id string, now int64) error {
		_, err := tx.ExecContext(ctx, `UPDATE queue_messages SET visible_at = ? WHERE id = ?`, now+d.Milliseconds(), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("renewing a lease in %s: %w", q.name, err)
	}
	return nil
}

// Fail records reason and makes the message visible again after retryIn.
func (q *Queue) Fail(ctx context.Context, receipt, reason string, retryIn time.Duration) error {
	err := q.owned(ctx, receipt, func(tx *sql.Tx, id string, now int64) error {
		_, err := tx.ExecContext(ctx, `UPDATE queue_messages SET visible_at = ?, last_error = ?, settled = 1,
			first_error = CASE WHEN first_error = '' THEN ? ELSE first_error END WHERE id = ?`, now+retryIn.Milliseconds(), reason, reason, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("recording failure in %s: %w", q.name, err)
	}
	if retryIn <= 0 {
		q.b.wake(q.name)
	}
	return nil
}

// DeadLetter moves a received message to the dead-letter queue with reason.
func (q *Queue) DeadLetter(ctx context.Context, receipt, reason string) error {
	err := q.owned(ctx, receipt, func(tx *sql.Tx, id string, now int64) error {
		return q.moveToDead(ctx, tx, id, reason, now)
	})
	if err != nil {
		return fmt.Errorf("dead-lettering from %s: %w", q.name, err)
	}
	return nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
