package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
)

// Stmt returns query prepared for tx. The driver keeps no statement cache,
// so a statement run for every webhook would otherwise be parsed for every
// webhook (a fifth of the ingress's CPU); a statement prepared here is
// parsed once per pooled connection and kept until Close. In a Group's
// transaction it is also bound to the transaction once, not per write.
func (d *DB) Stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	open := d.groupTx.Load()
	if open == nil || open.tx != tx {
		open = nil
	} else if bound, ok := open.stmts[query]; ok {
		return bound, nil
	}
	s, err := d.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	bound := tx.StmtContext(ctx, s)
	if open != nil {
		open.stmts[query] = bound
	}
	return bound, nil
}

// Query runs query, prepared once (see Stmt), outside a transaction: for
// reads run many times, such as one per app and environment.
func (d *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := d.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

func (d *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	s, ok := d.stmts.Load(query)
	if !ok {
		p, err := d.sql.PrepareContext(ctx, query)
		if err != nil {
			return nil, fmt.Errorf("preparing a statement: %w", err)
		}
		if s, ok = d.stmts.LoadOrStore(query, p); ok {
			p.Close()
		}
	}
	return s.(*sql.Stmt), nil
}

// ExecTx runs query, prepared once (see Stmt), in tx.
func (d *DB) ExecTx(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	s, err := d.Stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

// QueryRowTx runs query, prepared once (see Stmt), in tx and scans its
// first row into dest; no row is sql.ErrNoRows.
func (d *DB) QueryRowTx(ctx context.Context, tx *sql.Tx, query string, args []any, dest ...any) error {
	s, err := d.Stmt(ctx, tx, query)
	if err != nil {
		return err
	}
	return s.QueryRowContext(ctx, args...).Scan(dest...)
}

// closeStmts closes the prepared statements.
func (d *DB) closeStmts() {
	d.stmts.Range(func(k, s any) bool {
		s.(*sql.Stmt).Close()
		d.stmts.Delete(k)
		return true
	})
}
