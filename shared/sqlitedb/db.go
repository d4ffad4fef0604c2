package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the database's name inside a data directory.
const FileName = "conveyor.db"

// DB is an open embedded database. Writes are serialised inside the process
// so that SQLite's busy handler only arbitrates between processes.
type DB struct {
	sql  *sql.DB
	path string
	wmu  sync.Mutex
	// stmts holds the statements Stmt prepared, by query.
	stmts sync.Map
	// groupTx is a Group's open transaction while it holds wmu: Stmt
	// keeps the statements it bound to it. Only the Group's goroutine
	// uses that transaction, so its map needs no lock.
	groupTx atomic.Pointer[pending]
}

// Open opens (creating if needed) the database in dataDir. It refuses a
// database that is empty or missing where the data directory shows it held
// state (ErrLost), one that fails SQLite's quick_check (ErrDamaged) and a
// data directory it cannot write (ErrNotWritable).
func Open(ctx context.Context, dataDir string) (*DB, error) {
	path := filepath.Join(dataDir, FileName)
	if err := checkWritable(dataDir, path); err != nil {
		return nil, err
	}
	if err := checkMissing(dataDir, path); err != nil {
		return nil, err
	}
	d, err := open(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	if err := d.check(ctx, dataDir); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// open opens the database without Open's checks.
func open(ctx context.Context, dataDir string) (*DB, error) {
	path := filepath.Join(dataDir, FileName)
	if err := private(dataDir, path); err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return &DB{sql: db, path: path}, nil
}

// Path is the database file's path.
func (d *DB) Path() string { return d.path }

// SQL exposes the pool for reads.
func (d *DB) SQL() *sql.DB { return d.sql }

// Close closes the database.
func (d *DB) Close() error {
	d.closeStmts()
	return d.sql.Close()
}

// Migrate runs each statement in order; statements must be idempotent
// (CREATE … IF NOT EXISTS).
func (d *DB) Migrate(ctx context.Context, stmts ...string) error {
	err := d.Write(ctx, func(tx *sql.Tx) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("migrating: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// From now on an empty database here would mean a lost one.
	return writeMarker(filepath.Dir(d.path))
}

// Write runs fn in an immediate transaction and commits it when fn returns
// nil. The commit is durable when Write returns.
func (d *DB) Write(ctx context.Context, fn func(*sql.Tx) error) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// AddColumns adds each column ("name TYPE …" as in CREATE TABLE) that table
// lacks, so a database written by an older version gains the columns a newer
// one reads; SQLite has no ADD COLUMN IF NOT EXISTS.
func (d *DB) AddColumns(ctx context.Context, table string, defs ...string) error {
	return d.Write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			return fmt.Errorf("reading the columns of %s: %w", table, err)
		}
		have := map[string]bool{}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return fmt.Errorf("reading the columns of %s: %w", table, err)
			}
			have[name] = true
		}
		rows.Close()
		for _, def := range defs {
			name, _, _ := strings.Cut(strings.TrimSpace(def), " ")
			if have[name] {
				continue
			}
			if _, err := tx.ExecContext(ctx, `ALTER TABLE `+table+` ADD COLUMN `+def); err != nil {
				return fmt.Errorf("adding column %s to %s: %w", name, table, err)
			}
		}
		return nil
	})
}
