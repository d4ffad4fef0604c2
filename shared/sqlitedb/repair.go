package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// LostFound is the directory, inside a data directory, where repairs set
// damaged files aside: nothing is ever deleted.
const LostFound = "lost+found"

// Inspect checks dataDir's database as Open does, but with SQLite's full
// integrity_check, and returns what is wrong without refusing to look. An
// absent data directory or a new database has nothing wrong.
func Inspect(ctx context.Context, dataDir string) ([]string, error) {
	path := filepath.Join(dataDir, FileName)
	if err := checkMissing(dataDir, path); err != nil {
		return []string{err.Error()}, nil
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	d, err := open(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var tables int
	if err := d.sql.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&tables); err != nil {
		return []string{fmt.Sprintf("%s: reading its schema: %v", path, err)}, nil
	}
	if tables == 0 {
		if proof := evidence(dataDir); proof != "" {
			return []string{lostError(dataDir, path, proof).Error()}, nil
		}
		return nil, nil
	}
	problems, err := d.integrity(ctx, "integrity_check")
	if err != nil {
		problems = append(problems, err.Error())
	}
	for i := range problems {
		problems[i] = path + ": " + problems[i]
	}
	return problems, nil
}

// Salvage reports a repair: where the damaged files went and what was
// copied out of them.
type Salvage struct {
	// Quarantine is the directory under LostFound holding the old files.
	Quarantine string
	// Rows counts the rows copied into the new database, per table.
	Rows map[string]int
	// Lost names tables whose rows could not all be read.
	Lost []string
}

// Repair moves a database that Inspect finds wrong, with its -wal and -shm
// files, into a new directory under LostFound, and builds a new database in
// its place from every row that can still be read (none, for a lost one).
// It returns nil when there was nothing to repair. The caller must hold the
// data directory: no process may have the database open.
func Repair(ctx context.Context, dataDir string) (*Salvage, error) {
	problems, err := Inspect(ctx, dataDir)
	if err != nil || len(problems) == 0 {
		return nil, err
	}
	path := filepath.Join(dataDir, FileName)
	q := filepath.Join(dataDir, LostFound, time.Now().UTC().Format("20060102T150405.000000000Z")+"-db")
	if err := os.MkdirAll(q, DirMode); err != nil {
		return nil, fmt.Errorf("creating %s: %w", q, err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		err := os.Rename(path+suffix, filepath.Join(q, FileName+suffix))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("setting %s aside: %w", path+suffix, err)
		}
	}
	d, err := open(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	s := &Salvage{Quarantine: q, Rows: map[string]int{}}
	if err := d.salvage(ctx, filepath.Join(q, FileName), s); err != nil {
		return s, err
	}
	// The new database holds a table even when nothing was saved, so that
	// the next start takes it for a repaired database, not a lost one.
	if err := d.CheckWrite(ctx); err != nil {
		return s, err
	}
	return s, writeMarker(dataDir)
}

// salvage copies every table, then every index, trigger and view, from the
// database at old into d. A table that cannot be copied at once is copied
// row by row, as far as its rows can be read.
func (d *DB) salvage(ctx context.Context, old string, s *Salvage) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS old`, old); err != nil {
		return fmt.Errorf("attaching %s: %w", old, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE old`) //nolint:errcheck // best effort
	type object struct{ kind, name, sql string }
	var objs []object
	rows, err := conn.QueryContext(ctx, `SELECT type, name, sql FROM old.sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type = 'table' DESC`)
	if err != nil {
		// Nothing readable: the new database starts empty.
		s.Lost = append(s.Lost, "(schema: "+err.Error()+")")
		return nil
	}
	for rows.Next() {
		var o object
		if err := rows.Scan(&o.kind, &o.name, &o.sql); err != nil {
			break
		}
		objs = append(objs, o)
	}
	rows.Close()
	for _, o := range objs {
		if _, err := conn.ExecContext(ctx, o.sql); err != nil {
			s.Lost = append(s.Lost, o.name+" ("+err.Error()+")")
			continue
		}
		if o.kind != "table" {
			continue
		}
		n, complete := copyTable(ctx, conn, o.name)
		s.Rows[o.name] = n
		if !complete {
			s.Lost = append(s.Lost, o.name)
		}
	}
	return nil
}

// copyTable copies old.name into main.name, at once or else row by row,
// and says how many rows it copied and whether that was all of them.
func copyTable(ctx context.Context, conn *sql.Conn, name string) (int, bool) {
	q := `"` + name + `"`
	res, err := conn.ExecContext(ctx, `INSERT OR IGNORE INTO main.`+q+` SELECT * FROM old.`+q)
	if err == nil {
		n, _ := res.RowsAffected()
		return int(n), true
	}
	// Collect the rowids that can be read, then copy each row that can.
	rows, err := conn.QueryContext(ctx, `SELECT rowid FROM old.`+q)
	if err != nil {
		return 0, false
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if rows.Scan(&id) != nil {
			break
		}
		ids = append(ids, id)
	}
	complete := rows.Err() == nil
	rows.Close()
	n := 0
	for _, id := range ids {
		if _, err := conn.ExecContext(ctx, `INSERT OR IGNORE INTO main.`+q+` SELECT * FROM old.`+q+` WHERE rowid = ?`, id); err != nil {
			complete = false
			continue
		}
		n++
	}
	return n, complete
}
