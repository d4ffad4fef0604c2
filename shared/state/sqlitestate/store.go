package sqlitestate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
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

const releaseColumns = `id, app, env, image, digest, tag, source_repo, source_commit, source_time, state, rollback, pr, pr_url, branch,
	merge_commit, merged_by, trace_id, note, created_at, updated_at, merged_at, version, head_sha, approved_by, override`

// qualifiedReleaseColumns is releaseColumns of the table named r.
var qualifiedReleaseColumns = func() string {
	cols := strings.Split(releaseColumns, ",")
	for i, c := range cols {
		cols[i] = "r." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}()

// PutRelease implements state.Releases.
func (s *Store) PutRelease(ctx context.Context, r *state.Release) error {
	if r.ID == "" || r.App == "" || r.Env == "" || r.Digest == "" {
		return fmt.Errorf("putting release: id, app, env and digest are required")
	}
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		now := s.now().UTC()
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		r.UpdatedAt = now
		args := []any{r.App, r.Env, r.Image, r.Digest, r.Tag, r.SourceRepo, r.SourceCommit, millis(r.SourceTime), string(r.State),
			r.Rollback, r.PR, r.PRURL, r.Branch, r.MergeCommit, r.MergedBy, r.TraceID, r.Note,
			millis(r.CreatedAt), millis(r.UpdatedAt), millis(r.MergedAt), r.Version + 1, r.HeadSHA, joinUsers(r.ApprovedBy), r.Override}
		var res sql.Result
		var err error
		if r.Version == 0 {
			res, err = tx.ExecContext(ctx, `INSERT INTO releases(`+releaseColumns+`) VALUES (?, ?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
				ON CONFLICT(id) DO NOTHING`, append([]any{r.ID}, args...)...)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE releases SET app=?, env=?, image=?, digest=?, tag=?, source_repo=?, source_commit=?,
				source_time=?, state=?, rollback=?, pr=?, pr_url=?, branch=?, merge_commit=?, merged_by=?, trace_id=?, note=?,
				created_at=?, updated_at=?, merged_at=?, version=?, head_sha=?, approved_by=?, override=? WHERE id = ? AND version = ?`, append(args, r.ID, r.Version)...)
		}
		return conditional(res, err)
	})
	if err != nil {
		return fmt.Errorf("putting release %s: %w", r.ID, err)
	}
	r.Version++
	return nil
}

// GetRelease implements state.Releases.
func (s *Store) GetRelease(ctx context.Context, id string) (state.Release, error) {
	row := s.db.SQL().QueryRowContext(ctx, `SELECT `+releaseColumns+` FROM releases WHERE id = ?`, id)
	r, err := scanRelease(row)
	if errors.Is(err, sql.ErrNoRows) {
		return state.Release{}, fmt.Errorf("release %s: %w", id, state.ErrNotFound)
	}
	if err != nil {
		return state.Release{}, fmt.Errorf("reading release %s: %w", id, err)
	}
	return r, nil
}

// ListReleases implements state.Releases.
func (s *Store) ListReleases(ctx context.Context, f state.ReleaseFilter) ([]state.Release, error) {
	q, args := releasesQuery(f)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing releases: %w", err)
	}
	defer rows.Close()
	var out []state.Release
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, fmt.Errorf("listing releases: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// releasesQuery is the statement ListReleases runs for f, and its
// arguments.
func releasesQuery(f state.ReleaseFilter) (string, []any) {
	from := ` FROM releases`
	var where []string
	var args []any
	if f.PR > 0 {
		// The planner cannot see that a bound pr is positive, so the
		// partial index's own condition is spelled out; INDEXED BY keeps
		// it over (app, env) too: a pull request has few releases, an
		// environment a history.
		from += ` INDEXED BY releases_pr`
		where = append(where, "pr = ?", "pr > 0")
		args = append(args, f.PR)
	}
	// In a fixed order: each distinct query text is prepared once.
	for _, c := range [...]struct{ col, v string }{{"app", f.App}, {"env", f.Env}, {"state", string(f.State)}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if !f.UpdatedSince.IsZero() {
		where = append(where, "updated_at >= ?")
		args = append(args, f.UpdatedSince.UnixMilli())
	}
	q := `SELECT ` + releaseColumns + from
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	order := "created_at"
	if f.ByUpdate {
		order = "updated_at"
	}
	if f.Newest > 0 {
		// The indexes on (app, env, created_at) and on updated_at serve
		// this backwards.
		q = `SELECT * FROM (` + q + ` ORDER BY ` + order + ` DESC, id DESC LIMIT ?)`
		args = append(args, f.Newest)
	}
	return q + " ORDER BY " + order + ", id", args
}

// cellChunk bounds the cells one NewestPerCell statement reads: two bound
// values each, well under SQLite's limit on variables.
const cellChunk = 500

// NewestPerCell returns, for each app and environment in cells, its
// newest n releases in state st: one statement per few hundred cells,
// each cell read backwards through the (app, env, created_at) index, so
// the cost follows the cells, not the history, without a query per cell.
func (s *Store) NewestPerCell(ctx context.Context, cells [][2]string, st state.ReleaseState, n int) ([]state.Release, error) {
	var out []state.Release
	for len(cells) > 0 {
		chunk := cells[:min(len(cells), cellChunk)]
		cells = cells[len(chunk):]
		args := make([]any, 0, 2*len(chunk)+2)
		for _, c := range chunk {
			args = append(args, c[0], c[1])
		}
		args = append(args, string(st), n)
		q := `WITH cells(app, env) AS (VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?),", len(chunk)), ",") + `)
			SELECT ` + qualifiedReleaseColumns + ` FROM cells c JOIN releases r ON r.rowid IN (
				SELECT x.rowid FROM releases x WHERE x.app = c.app AND x.env = c.env AND x.state = ?
				ORDER BY x.created_at DESC, x.id DESC LIMIT ?)`
		rows, err := s.db.Query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("listing the newest releases: %w", err)
		}
		for rows.Next() {
			r, err := scanRelease(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("listing the newest releases: %w", err)
			}
			out = append(out, r)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type scanner interface{ Scan(...any) error }

func scanRelease(sc scanner) (state.Release, error) {
	var r state.Release
	var st string
	var srcTime, created, updated, merged int64
	var approvedBy string
	err := sc.Scan(&r.ID, &r.App, &r.Env, &r.Image, &r.Digest, &r.Tag, &r.SourceRepo, &r.SourceCommit, &srcTime, &st, &r.Rollback,
		&r.PR, &r.PRURL, &r.Branch, &r.MergeCommit, &r.MergedBy, &r.TraceID, &r.Note, &created, &updated, &merged, &r.Version,
		&r.HeadSHA, &approvedBy, &r.Override)
	r.State, r.ApprovedBy = state.ReleaseState(st), splitUsers(approvedBy)
	r.SourceTime, r.CreatedAt, r.UpdatedAt, r.MergedAt = fromMillis(srcTime), fromMillis(created), fromMillis(updated), fromMillis(merged)
	return r, err
}

// joinUsers stores user names comma-separated: no forge allows a comma in
// a login.
func joinUsers(users []string) string { return strings.Join(users, ",") }

func splitUsers(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
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
