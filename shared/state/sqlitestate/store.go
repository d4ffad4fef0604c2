package sqlitestate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

var schema = []string{
	`CREATE TABLE IF NOT EXISTS idempotency (
		key TEXT PRIMARY KEY,
		status TEXT NOT NULL,
		result BLOB,
		expires_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS releases (
		id TEXT PRIMARY KEY,
		app TEXT NOT NULL,
		env TEXT NOT NULL,
		image TEXT NOT NULL DEFAULT '',
		digest TEXT NOT NULL,
		tag TEXT NOT NULL DEFAULT '',
		source_repo TEXT NOT NULL DEFAULT '',
		source_commit TEXT NOT NULL DEFAULT '',
		source_time INTEGER NOT NULL DEFAULT 0,
		state TEXT NOT NULL,
		rollback INTEGER NOT NULL DEFAULT 0,
		pr INTEGER NOT NULL DEFAULT 0,
		pr_url TEXT NOT NULL DEFAULT '',
		branch TEXT NOT NULL DEFAULT '',
		merge_commit TEXT NOT NULL DEFAULT '',
		merged_by TEXT NOT NULL DEFAULT '',
		trace_id TEXT NOT NULL DEFAULT '',
		note TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		merged_at INTEGER NOT NULL DEFAULT 0,
		version INTEGER NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS releases_app_env ON releases(app, env, created_at)`,
	`CREATE INDEX IF NOT EXISTS releases_updated ON releases(updated_at)`,
	// Partial: a release never proposed (skipped) has no pull request.
	`CREATE INDEX IF NOT EXISTS releases_pr ON releases(pr, created_at) WHERE pr > 0`,
	latestSchema,
	deadLetterSchema,
}

// columnsAdded are the release columns later versions added, for databases
// created before them.
var columnsAdded = []string{
	`head_sha TEXT NOT NULL DEFAULT ''`,
	`approved_by TEXT NOT NULL DEFAULT ''`,
	`override TEXT NOT NULL DEFAULT ''`,
}

// Store is the embedded state store.
type Store struct {
	db  *sqlitedb.DB
	now func() time.Time
}

var _ state.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now, for tests of expiry.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open creates the tables if needed.
func Open(ctx context.Context, db *sqlitedb.DB, opts ...Option) (*Store, error) {
	s := &Store{db: db, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if err := db.Migrate(ctx, schema...); err != nil {
		return nil, err
	}
	if err := db.AddColumns(ctx, "releases", columnsAdded...); err != nil {
		return nil, err
	}
	return s, nil
}

// Claim implements state.Idempotency.
func (s *Store) Claim(ctx context.Context, key string, lease time.Duration) (state.Idem, bool, error) {
	var rec state.Idem
	claimed := false
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		held, live, err := s.LiveTx(ctx, tx, key)
		if err != nil || live {
			rec = held
			return err
		}
		now := s.now()
		rec = state.Idem{Key: key, Status: state.InProgress, ExpiresAt: now.Add(lease), UpdatedAt: now}
		claimed = true
		_, err = tx.ExecContext(ctx, `INSERT INTO idempotency(key, status, result, expires_at, updated_at) VALUES (?, ?, NULL, ?, ?)
			ON CONFLICT(key) DO UPDATE SET status = excluded.status, result = NULL, expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
			key, string(state.InProgress), rec.ExpiresAt.UnixMilli(), now.UnixMilli())
		return err
	})
	if err != nil {
		return state.Idem{}, false, fmt.Errorf("claiming %s: %w", key, err)
	}
	return rec, claimed, nil
}

// LiveTx reads key's record inside tx, a write transaction of the store's
// database, and reports whether it still holds (an in-progress claim or a
// completed record, not expired); an absent or expired key is free. It
// lets a caller decide and write in one transaction with other writes.
func (s *Store) LiveTx(ctx context.Context, tx *sql.Tx, key string) (state.Idem, bool, error) {
	var status string
	var result []byte
	var exp, upd int64
	err := s.db.QueryRowTx(ctx, tx, `SELECT status, result, expires_at, updated_at FROM idempotency WHERE key = ?`, []any{key},
		&status, &result, &exp, &upd)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return state.Idem{}, false, nil
	case err != nil:
		return state.Idem{}, false, fmt.Errorf("reading idempotency record %s: %w", key, err)
	case exp <= s.now().UnixMilli():
		return state.Idem{}, false, nil
	}
	return state.Idem{Key: key, Status: state.Status(status), Result: result, ExpiresAt: time.UnixMilli(exp), UpdatedAt: time.UnixMilli(upd)}, true, nil
}

// Complete implements state.Idempotency.
func (s *Store) Complete(ctx context.Context, key string, result []byte, retention time.Duration) error {
	err := s.db.Write(ctx, func(tx *sql.Tx) error { return s.CompleteTx(ctx, tx, key, result, retention) })
	if err != nil {
		return fmt.Errorf("completing %s: %w", key, err)
	}
	return nil
}

// CompleteTx is Complete inside tx, a write transaction of the store's
// database: the record exists once tx commits.
func (s *Store) CompleteTx(ctx context.Context, tx *sql.Tx, key string, result []byte, retention time.Duration) error {
	now := s.now()
	_, err := s.db.ExecTx(ctx, tx, `INSERT INTO idempotency(key, status, result, expires_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET status = excluded.status, result = excluded.result, expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
		key, string(state.Completed), result, now.Add(retention).UnixMilli(), now.UnixMilli())
	return err
}

// Release implements state.Idempotency. Only an in-progress claim is
// removed: a completed record stays.
func (s *Store) Release(ctx context.Context, key string) error {
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency WHERE key = ? AND status = ?`, key, string(state.InProgress))
		return err
	})
	if err != nil {
		return fmt.Errorf("releasing %s: %w", key, err)
	}
	return nil
}

// Renew implements state.Idempotency.
func (s *Store) Renew(ctx context.Context, held state.Idem, lease time.Duration) (state.Idem, error) {
	rec := held
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		now := s.now()
		rec.ExpiresAt, rec.UpdatedAt = now.Add(lease), now
		return conditional(tx.ExecContext(ctx, `UPDATE idempotency SET expires_at = ?, updated_at = ? WHERE key = ? AND status = ? AND expires_at = ?`,
			rec.ExpiresAt.UnixMilli(), now.UnixMilli(), held.Key, string(state.InProgress), held.ExpiresAt.UnixMilli()))
	})
	if err != nil {
		return state.Idem{}, fmt.Errorf("renewing the claim on %s: %w", held.Key, err)
	}
	return rec, nil
}

// Get implements state.Idempotency.
func (s *Store) Get(ctx context.Context, key string) (state.Idem, error) {
	rec := state.Idem{Key: key}
	var status string
	var exp, upd int64
	err := s.db.SQL().QueryRowContext(ctx, `SELECT status, result, expires_at, updated_at FROM idempotency WHERE key = ?`, key).
		Scan(&status, &rec.Result, &exp, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return state.Idem{}, fmt.Errorf("idempotency record %s: %w", key, state.ErrNotFound)
	}
	if err != nil {
		return state.Idem{}, fmt.Errorf("reading idempotency record %s: %w", key, err)
	}
	rec.Status, rec.ExpiresAt, rec.UpdatedAt = state.Status(status), time.UnixMilli(exp), time.UnixMilli(upd)
	return rec, nil
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// conditional turns a conditional write that changed no row into
// state.ErrConflict.
func conditional(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return state.ErrConflict
	}
	return nil
}
