package sqlitestate

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// LiveKeysTx is LiveTx for several keys in one read: it returns the record
// of each key that still holds, by key; a key absent from the map is free.
// The ingress's committer checks all of an event's keys this way, because
// its single goroutine runs every event's statements one after another.
func (s *Store) LiveKeysTx(ctx context.Context, tx *sql.Tx, keys []string) (map[string]state.Idem, error) {
	held := make(map[string]state.Idem, len(keys))
	// SQLite caps a compound SELECT at 500 terms; an event has a handful.
	for len(keys) > 0 {
		n := min(len(keys), 64)
		if err := s.liveKeys(ctx, tx, keys[:n], held); err != nil {
			return nil, fmt.Errorf("reading idempotency records %v: %w", keys[:n], err)
		}
		keys = keys[n:]
	}
	return held, nil
}

// liveKeys adds to held the live records of keys. It looks each key up
// with its own term of a UNION ALL: "key IN (…)" would first build a
// temporary b-tree of the keys.
func (s *Store) liveKeys(ctx context.Context, tx *sql.Tx, keys []string, held map[string]state.Idem) error {
	const one = `SELECT key, status, result, expires_at, updated_at FROM idempotency WHERE key = ?`
	stmt, err := s.db.Stmt(ctx, tx, strings.Repeat(one+` UNION ALL `, len(keys)-1)+one)
	if err != nil {
		return err
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	now := s.now().UnixMilli()
	for rows.Next() {
		var key, status string
		var result []byte
		var exp, upd int64
		if err := rows.Scan(&key, &status, &result, &exp, &upd); err != nil {
			return err
		}
		// An expired record is free, as in LiveTx.
		if exp > now {
			held[key] = state.Idem{Key: key, Status: state.Status(status), Result: result, ExpiresAt: time.UnixMilli(exp), UpdatedAt: time.UnixMilli(upd)}
		}
	}
	return rows.Err()
}

// Completion is one event's keys to complete with its result, for
// CompleteEachTx.
type Completion struct {
	Keys      []string
	Result    []byte
	Retention time.Duration
}

// CompleteEachTx is CompleteTx for the keys of several events, each with
// its own result, in as few statements as sqlitedb.Chunks allows: the
// ingress's committer runs every event's statements on its one goroutine.
// A key listed twice holds the later result, as if completed in order.
func (s *Store) CompleteEachTx(ctx context.Context, tx *sql.Tx, cs []Completion) error {
	type row struct {
		key string
		c   *Completion
	}
	var rows []row
	for i := range cs {
		for _, k := range cs[i].Keys {
			rows = append(rows, row{k, &cs[i]})
		}
	}
	now := s.now()
	return sqlitedb.Chunks(len(rows), func(lo, hi int) error {
		// ?1 and ?2 are shared by every row: each is bound once.
		args := append(make([]any, 0, 2+3*(hi-lo)), string(state.Completed), now.UnixMilli())
		var q strings.Builder
		q.WriteString(`INSERT INTO idempotency(key, status, result, expires_at, updated_at) VALUES `)
		for i, r := range rows[lo:hi] {
			if i > 0 {
				q.WriteString(", ")
			}
			n := 3 + 3*i
			fmt.Fprintf(&q, "(?%d, ?1, ?%d, ?%d, ?2)", n, n+1, n+2)
			args = append(args, r.key, r.c.Result, now.Add(r.c.Retention).UnixMilli())
		}
		q.WriteString(` ON CONFLICT(key) DO UPDATE SET status = excluded.status, result = excluded.result,
		expires_at = excluded.expires_at, updated_at = excluded.updated_at`)
		if _, err := s.db.ExecTx(ctx, tx, q.String(), args...); err != nil {
			return fmt.Errorf("recording %d idempotency keys: %w", hi-lo, err)
		}
		return nil
	})
}
