package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/crashpoint"
)

// DefaultGroupSize bounds how many writes share one transaction: enough to
// absorb a burst of concurrent webhooks, few enough that one transaction
// never holds the write lock for long.
const DefaultGroupSize = 256

// CheckpointWrites is how many synced writes a Group lets pass before its
// checkpointer copies the write-ahead log into the database file (about
// SQLite's default of 1,000 pages of webhooks); fewer are copied after
// checkpointIdle.
const CheckpointWrites = 256

const checkpointIdle = time.Second

// CommitterCheckpointPages is the log size, in pages, at which the group's
// own connection checkpoints in the middle of a batch: only when the
// checkpointer falls behind. The log can restart from its beginning only
// after a checkpoint that catches up with the committer, which under
// steady load is this one; it bounds the log at about 16 MiB.
const CommitterCheckpointPages = 4000

// ErrGroupClosed is returned by a write submitted after Group.Close.
var ErrGroupClosed = errors.New("group commit closed")

// Group commits small writes from many goroutines together. A write waits
// for the transaction it joined to commit and reach the disk, so it is as
// durable as one made with Write when it returns nil, but N concurrent
// writes cost one commit and one fsync instead of N. Each write runs in a
// savepoint of its own: a write that fails leaves nothing behind and fails
// alone.
//
// The fsync is not part of the commit: the group's own connection commits
// with synchronous=NORMAL (in WAL mode: no sync at commit, still safe from
// corruption) and a second goroutine syncs the write-ahead log before it
// answers the batch. While it syncs, the next transaction takes the writes
// that arrive, and commits once the syncer is free. A third goroutine
// checkpoints, so that the committer's goroutine does not copy the log
// into the database file and wait for its fsyncs.
type Group struct {
	db   *DB
	max  int
	conn *sql.Conn
	reqs chan *groupWrite
	// syncs carries committed batches to the syncer, which closes done;
	// inflight counts those not yet synced, and idle wakes the committer
	// when that drops to zero.
	syncs    chan []*groupWrite
	inflight atomic.Int64
	idle     chan struct{}
	done     chan struct{}
	// unckpt counts the writes synced since the last checkpoint; pokes
	// wakes the checkpointer, which closes ckptDone when it stops.
	unckpt   atomic.Int64
	pokes    chan struct{}
	ckptDone chan struct{}
	// walIno is the write-ahead log's inode at the last sync: a new one
	// needs its directory entry synced too.
	walIno uint64

	mu     sync.RWMutex
	closed bool

	batches, writes atomic.Int64
}

// GroupStats counts what a Group committed.
type GroupStats struct {
	// Batches is how many shared transactions were run, Writes how many
	// writes they held.
	Batches, Writes int64
	// Waiting is how many writes wait for the committer now.
	Waiting int
}

type groupWrite struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *sql.Tx) error
	err chan error
}

// NewGroup starts a group committer on d, with a connection of its own,
// that puts at most max writes in one transaction (DefaultGroupSize when
// max <= 0). Close stops it.
func (d *DB) NewGroup(ctx context.Context, max int) (*Group, error) {
	if max <= 0 {
		max = DefaultGroupSize
	}
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening a connection for group commits: %w", err)
	}
	// synchronous is per connection: the others keep FULL. temp_store
	// keeps each write's savepoint journal in memory: once past 64 KiB
	// SQLite spills it to a temporary file, a write system call for every
	// page a write touches, on the committer's one goroutine. It holds
	// only what a failed write's rollback needs, never committed data.
	pragmas := []string{`PRAGMA synchronous = NORMAL`, `PRAGMA temp_store = MEMORY`,
		fmt.Sprintf(`PRAGMA wal_autocheckpoint = %d`, CommitterCheckpointPages)}
	for _, p := range pragmas {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			conn.Close()
			return nil, fmt.Errorf("opening a connection for group commits: %w", err)
		}
	}
	g := &Group{db: d, max: max, conn: conn, reqs: make(chan *groupWrite, 4*max),
		syncs: make(chan []*groupWrite, 64), idle: make(chan struct{}, 1), done: make(chan struct{}),
		pokes: make(chan struct{}, 1), ckptDone: make(chan struct{})}
	go g.run()
	go g.syncer()
	go g.checkpointer()
	return g, nil
}

// Write runs fn in the next shared transaction and returns once that
// transaction committed (nil) or fn failed (fn's error, with fn's writes
// rolled back and the others' kept). fn gets a context that is never
// cancelled: cancelling one write must not interrupt the transaction the
// others share. A write whose ctx ends before its turn is skipped; one
// whose ctx ends while it waits for the commit may still be committed.
func (g *Group) Write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	w := &groupWrite{ctx: ctx, fn: fn, err: make(chan error, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return ErrGroupClosed
	}
	select {
	case g.reqs <- w:
	case <-ctx.Done():
		g.mu.RUnlock()
		return ctx.Err()
	}
	g.mu.RUnlock()
	select {
	case err := <-w.err:
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for the commit (the write may still be committed): %w", ctx.Err())
	}
}

// Stats returns the counters so far.
func (g *Group) Stats() GroupStats {
	return GroupStats{Batches: g.batches.Load(), Writes: g.writes.Load(), Waiting: len(g.reqs)}
}

// Close commits the writes already submitted and stops the committer.
func (g *Group) Close() error {
	g.mu.Lock()
	first := !g.closed
	if first {
		g.closed = true
		close(g.reqs)
	}
	g.mu.Unlock()
	<-g.done
	<-g.ckptDone
	if first {
		return g.conn.Close()
	}
	return nil
}

// run applies each write as it arrives to an open transaction and commits
// it as soon as the syncer is free to take it: while the previous batch is
// being synced the transaction keeps growing, so the batch size follows the
// load and the disk's latency without any added delay.
func (g *Group) run() {
	defer close(g.syncs)
	var open *pending
	reqs := g.reqs
	for reqs != nil || open != nil {
		if open != nil && (g.inflight.Load() == 0 || open.taken >= g.max || reqs == nil) {
			g.finish(open)
			open = nil
			continue
		}
		select {
		case w, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			open = g.take(open, w)
			for open != nil && open.taken < g.max {
				w, ok := g.poll()
				if !ok {
					break
				}
				open = g.take(open, w)
			}
		case <-g.idle:
		}
	}
}

// pending is the open shared transaction; it holds the write lock.
type pending struct {
	tx *sql.Tx
	// writes were applied: they are answered once committed and synced.
	writes []*groupWrite
	taken  int
	// stmts are the statements Stmt bound to tx, by query: binding one
	// to a transaction costs an allocation and the pool's lock, for
	// every statement of every write.
	stmts map[string]*sql.Stmt
}

// take applies w to open, beginning a transaction when there is none, and
// returns the transaction still open (nil when it had to be abandoned).
func (g *Group) take(open *pending, w *groupWrite) *pending {
	ctx := context.Background()
	if open == nil {
		g.db.wmu.Lock()
		tx, err := g.conn.BeginTx(ctx, nil)
		if err != nil {
			g.db.wmu.Unlock()
			g.count(1)
			w.err <- fmt.Errorf("beginning transaction: %w", err)
			return nil
		}
		open = &pending{tx: tx, stmts: map[string]*sql.Stmt{}}
		g.db.groupTx.Store(open)
	}
	open.taken++
	if err := w.ctx.Err(); err != nil {
		w.err <- err
		return open
	}
	fnErr, txErr := g.savepoint(ctx, open.tx, w.fn)
	switch {
	case txErr != nil:
		// The transaction itself is gone (SQLite rolls back on a full
		// disk or an I/O error): nothing in it will commit.
		g.db.groupTx.Store(nil)
		_ = open.tx.Rollback()
		g.db.wmu.Unlock()
		g.count(open.taken)
		for _, p := range append(open.writes, w) {
			p.err <- txErr
		}
		return nil
	case fnErr != nil:
		// Its writes are undone: its failure is final now.
		w.err <- fnErr
	default:
		open.writes = append(open.writes, w)
	}
	return open
}

// finish commits open and hands its writes to the syncer.
func (g *Group) finish(open *pending) {
	crashpoint.Hit(crashpoint.BeforeGroupCommit)
	g.db.groupTx.Store(nil)
	err := open.tx.Commit()
	g.db.wmu.Unlock()
	g.count(open.taken)
	if err != nil {
		for _, w := range open.writes {
			w.err <- fmt.Errorf("committing: %w", err)
		}
		return
	}
	if len(open.writes) > 0 {
		g.inflight.Add(1)
		g.syncs <- open.writes
	}
}

func (g *Group) count(writes int) {
	g.batches.Add(1)
	g.writes.Add(int64(writes))
}

// poll returns a waiting write without blocking.
func (g *Group) poll() (*groupWrite, bool) {
	select {
	case w, ok := <-g.reqs:
		return w, ok
	default:
		return nil, false
	}
}

// savepoint runs fn in a savepoint of tx and returns fn's error, with fn's
// writes undone, or an error of tx's own when the savepoint cannot be set
// or undone.
func (g *Group) savepoint(ctx context.Context, tx *sql.Tx, fn func(context.Context, *sql.Tx) error) (fnErr, txErr error) {
	if _, err := g.db.ExecTx(ctx, tx, `SAVEPOINT item`); err != nil {
		return nil, fmt.Errorf("setting a savepoint: %w", err)
	}
	if fnErr = fn(ctx, tx); fnErr != nil {
		if _, err := g.db.ExecTx(ctx, tx, `ROLLBACK TO item`); err != nil {
			return fnErr, fmt.Errorf("undoing a failed write (%v): %w", fnErr, err)
		}
	}
	if _, err := g.db.ExecTx(ctx, tx, `RELEASE item`); err != nil {
		return fnErr, fmt.Errorf("releasing a savepoint: %w", err)
	}
	return fnErr, nil
}
