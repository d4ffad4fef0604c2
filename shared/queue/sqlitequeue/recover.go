package sqlitequeue

import (
	"context"
	"database/sql"
	"fmt"
)

// MaxAbandoned is how many receives of one message may die with their
// process (killed mid-batch, never settled) without counting toward the
// queue's max receives. Beyond it they count: a message that kills every
// consumer that takes it is a poison and must reach the dead-letter queue.
const MaxAbandoned = 10

// RecoverAbandoned makes every message whose last receive was never
// settled visible now, and gives that receive back unless the message has
// been abandoned MaxAbandoned times. Only the process that owns the
// database may call it, before its consumers start: then every such receive
// belonged to a process that died, and a crash storm neither delays its
// work by a whole visibility timeout nor spends the retry budget that
// failures are meant to spend. It returns how many messages it recovered.
func (b *Broker) RecoverAbandoned(ctx context.Context) (int, error) {
	var n int64
	err := b.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE queue_messages SET
			receive_count = CASE WHEN abandoned < ? AND receive_count > 0 THEN receive_count - 1 ELSE receive_count END,
			abandoned = CASE WHEN abandoned < ? THEN abandoned + 1 ELSE abandoned END,
			visible_at = ?, receipt = '', settled = 1
			WHERE settled = 0 AND receipt != '' AND dead_at = 0`, MaxAbandoned, MaxAbandoned, b.nowMillis())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("recovering messages of a process that died: %w", err)
	}
	return int(n), nil
}
