package local

import (
	"context"
	"database/sql"
	"errors"
)

var settingsSchema = `CREATE TABLE IF NOT EXISTS runtime_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)`

// SaveSetting remembers a value in the data directory, so that later CLI
// commands (conveyor pr, promote, status) find the GitOps repository that
// `conveyor dev` was started with.
func (r *Runtime) SaveSetting(ctx context.Context, key, value string) error {
	if err := r.DB.Migrate(ctx, settingsSchema); err != nil {
		return err
	}
	return r.DB.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO runtime_settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
}

// Setting returns a remembered value, or "".
func (r *Runtime) Setting(ctx context.Context, key string) (string, error) {
	if err := r.DB.Migrate(ctx, settingsSchema); err != nil {
		return "", err
	}
	var v string
	err := r.DB.SQL().QueryRowContext(ctx, `SELECT value FROM runtime_settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}
