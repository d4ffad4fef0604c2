package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// CheckWrite commits a one-row write to a table of its own, so that a
// health check learns whether the database accepts writes (a full disk, a
// read-only remount or an I/O error all fail it) rather than merely
// whether it can be read.
func (d *DB) CheckWrite(ctx context.Context) error {
	err := d.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at INTEGER NOT NULL)`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO health (id, checked_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`, time.Now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("writing to %s: %w", d.path, err)
	}
	return nil
}
