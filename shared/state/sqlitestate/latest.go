package sqlitestate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/conveyor-gitops/conveyor/shared/state"
)

const latestSchema = `CREATE TABLE IF NOT EXISTS latest (
	key TEXT PRIMARY KEY,
	work TEXT NOT NULL,
	source_repo TEXT NOT NULL DEFAULT '',
	revision TEXT NOT NULL DEFAULT '',
	source_time INTEGER NOT NULL DEFAULT 0,
	due INTEGER NOT NULL DEFAULT 0,
	done INTEGER NOT NULL DEFAULT 0,
	updated_at INTEGER NOT NULL,
	version INTEGER NOT NULL
)`

// PutLatest implements state.Latests.
func (s *Store) PutLatest(ctx context.Context, l *state.Latest) error {
	if l.Key == "" || l.Work == "" {
		return fmt.Errorf("putting latest: key and work are required")
	}
	now := s.now().UTC()
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		args := []any{l.Work, l.SourceRepo, l.Revision, millis(l.SourceTime), millis(l.Due), l.Done, millis(now), l.Version + 1}
		var res sql.Result
		var err error
		if l.Version == 0 {
			res, err = tx.ExecContext(ctx, `INSERT INTO latest(key, work, source_repo, revision, source_time, due, done, updated_at, version)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING`, append([]any{l.Key}, args...)...)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE latest SET work=?, source_repo=?, revision=?, source_time=?, due=?, done=?,
				updated_at=?, version=? WHERE key = ? AND version = ?`, append(args, l.Key, l.Version)...)
		}
		return conditional(res, err)
	})
	if err != nil {
		return fmt.Errorf("putting latest %s: %w", l.Key, err)
	}
	l.UpdatedAt = fromMillis(millis(now))
	l.Version++
	return nil
}

// GetLatest implements state.Latests.
func (s *Store) GetLatest(ctx context.Context, key string) (state.Latest, error) {
	l := state.Latest{Key: key}
	var srcTime, due, updated int64
	err := s.db.SQL().QueryRowContext(ctx, `SELECT work, source_repo, revision, source_time, due, done, updated_at, version
		FROM latest WHERE key = ?`, key).Scan(&l.Work, &l.SourceRepo, &l.Revision, &srcTime, &due, &l.Done, &updated, &l.Version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return state.Latest{}, fmt.Errorf("latest %s: %w", key, state.ErrNotFound)
	case err != nil:
		return state.Latest{}, fmt.Errorf("reading latest %s: %w", key, err)
	}
	l.SourceTime, l.Due, l.UpdatedAt = fromMillis(srcTime), fromMillis(due), fromMillis(updated)
	return l, nil
}
