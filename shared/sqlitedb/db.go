package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"

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
}

// Open opens (creating if needed) the database in dataDir.
func Open(ctx context.Context, dataDir string) (*DB, error) {
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
func (d *DB) Close() error { return d.sql.Close() }

// Migrate runs each statement in order; statements must be idempotent
// (CREATE … IF NOT EXISTS).
func (d *DB) Migrate(ctx context.Context, stmts ...string) error {
	return d.Write(ctx, func(tx *sql.Tx) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("migrating: %w", err)
			}
		}
		return nil
	})
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
