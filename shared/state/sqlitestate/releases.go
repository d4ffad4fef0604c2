package sqlitestate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/state"
)

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
