package sqlitedb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// MarkerName is a file written into the data directory once the database
// holds tables. Its presence next to an empty database means the database
// was lost (truncated, replaced or deleted), not that this is a first run.
const MarkerName = "conveyor.initialised"

// journalName is the embedded registry's manifest journal, relative to the
// data directory: a non-empty one is evidence of state too, for data
// directories written before the marker existed.
const journalName = "registry/manifests.jsonl"

// Sentinel errors of Open; each is wrapped with the file and the way out.
var (
	// ErrLost: the database is empty or missing while the data directory
	// shows it held state.
	ErrLost = errors.New("database lost")
	// ErrDamaged: SQLite's integrity check found damaged pages.
	ErrDamaged = errors.New("database damaged")
	// ErrNotWritable: the data directory or the database file cannot be
	// written by this process.
	ErrNotWritable = errors.New("data directory not writable")
)

// evidence returns the first file in dataDir showing that it held state,
// or "" when there is none.
func evidence(dataDir string) string {
	for _, rel := range []string{MarkerName, journalName} {
		p := filepath.Join(dataDir, filepath.FromSlash(rel))
		if fi, err := os.Stat(p); err == nil && (rel == MarkerName || fi.Size() > 0) {
			return p
		}
	}
	return ""
}

// lostError explains a lost database and the recovery path.
func lostError(dataDir, db, proof string) error {
	return fmt.Errorf("%w: %s is empty or missing but %s shows this data directory held state (releases, pull requests, deliveries); refusing to start on an empty database. "+
		"Restore %s from a backup, or run `conveyor fsck --repair --data-dir %s` to set what is left aside in %s and start empty, then `conveyor reconcile` to rebuild the records from git",
		ErrLost, db, proof, db, dataDir, filepath.Join(dataDir, LostFound))
}

// checkMissing refuses, before SQLite touches anything, a database file
// that is missing or 0 bytes (with no write-ahead log that could hold its
// content) in a data directory that held state.
func checkMissing(dataDir, db string) error {
	proof := evidence(dataDir)
	if proof == "" {
		return nil
	}
	if size(db) > 0 || size(db+"-wal") > 0 {
		return nil
	}
	return lostError(dataDir, db, proof)
}

func size(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// checkWritable names the path this process cannot write: SQLite itself
// only says "unable to open database file (14)" when it cannot create the
// -wal and -shm files next to the database.
func checkWritable(dataDir, db string) error {
	for _, p := range []string{dataDir, db} {
		err := syscall.Access(p, 2 /* W_OK */)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			continue
		}
		what := "data directory"
		if p == db {
			what = "database file"
		}
		return fmt.Errorf("%w: the %s %s is not writable by this user (uid %d): %v; conveyor keeps its database and its -wal and -shm files there: "+
			"make it writable (chmod u+w, or a read-write mount) or choose another --data-dir",
			ErrNotWritable, what, p, os.Getuid(), err)
	}
	return nil
}

// check refuses an open database that is empty while the data directory
// held state, or that fails SQLite's quick_check, and writes the marker
// once the database holds tables.
func (d *DB) check(ctx context.Context, dataDir string) error {
	var tables int
	if err := d.sql.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&tables); err != nil {
		return damagedError(dataDir, d.path, []string{err.Error()})
	}
	if tables == 0 {
		if proof := evidence(dataDir); proof != "" {
			return lostError(dataDir, d.path, proof)
		}
		return nil
	}
	problems, err := d.integrity(ctx, "quick_check")
	if err != nil {
		return damagedError(dataDir, d.path, []string{err.Error()})
	}
	if len(problems) > 0 {
		return damagedError(dataDir, d.path, problems)
	}
	return writeMarker(dataDir)
}

// integrity runs PRAGMA quick_check or integrity_check and returns what it
// found wrong ("ok" is nothing).
func (d *DB) integrity(ctx context.Context, pragma string) ([]string, error) {
	rows, err := d.sql.QueryContext(ctx, `PRAGMA `+pragma)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return out, err
		}
		if s != "ok" {
			out = append(out, s)
		}
	}
	return out, rows.Err()
}

func damagedError(dataDir, db string, problems []string) error {
	if len(problems) > 3 {
		problems = append(problems[:3:3], fmt.Sprintf("and %d more", len(problems)-3))
	}
	return fmt.Errorf("%w: %s fails its integrity check (%s). Stop every conveyor process, then run `conveyor fsck --data-dir %s` for details and `conveyor fsck --repair --data-dir %s` to set the damaged file aside in %s and keep what can be read, or restore it from a backup",
		ErrDamaged, db, strings.Join(problems, "; "), dataDir, dataDir, filepath.Join(dataDir, LostFound))
}

// writeMarker records, once, that the database holds state.
func writeMarker(dataDir string) error {
	p := filepath.Join(dataDir, MarkerName)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	body := "conveyor.db initialised " + time.Now().UTC().Format(time.RFC3339) + "\n" +
		"Its presence tells conveyor that an empty conveyor.db here was lost, not new.\n"
	if err := os.WriteFile(p, []byte(body), FileMode); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

// HasData says whether dataDir holds a database or evidence that it held
// one, so that commands which only read tell "nothing here yet" apart from
// a lost database (which Open then reports).
func HasData(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, FileName))
	return err == nil || evidence(dataDir) != ""
}
