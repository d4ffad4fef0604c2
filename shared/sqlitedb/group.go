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
// answers the batch. While it syncs, the writes that arrive wait, and are
// applied and committed together once the syncer is free: a Batch applies
// those of one kind in one pass. A third goroutine
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

	batches, writes, submitted atomic.Int64
}

// GroupStats counts what a Group committed.
type GroupStats struct {
	// Batches is how many shared transactions were run, Writes how many
	// writes they held.
	Batches, Writes int64
	// Submitted is how many writes reached the committer's queue: a test
	// that holds the write lock knows from it that every write it sent
	// is waiting, and so will share the next transaction.
	Submitted int64
}

type groupWrite struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *sql.Tx) error
	// batch, when set, applies item together with the writes of the same
	// batch that wait beside it; fn applies it alone.
	batch Batch
	item  any
	err   chan error
}

// A Batch applies several writes of one kind in one pass: the committer
// runs every write's statements on its one goroutine, and one statement
// for many rows costs about what one costs for one row.
type Batch interface {
	// ApplyBatch applies items in tx, in order, with the effect of
	// applying them one after another. It returns either one error per
	// item (nil for an item applied), where an item that fails must have
	// written nothing, or an error of its own: then nothing of the batch
	// is kept and each item is applied alone instead, so that a bad item
	// fails alone.
	ApplyBatch(ctx context.Context, tx *sql.Tx, items []any) (errs []error, err error)
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
	return g.submit(ctx, &groupWrite{ctx: ctx, fn: fn, err: make(chan error, 1)})
}

// WriteBatched is Write for a write that b can apply together with the
// other writes of b waiting beside it (b.ApplyBatch gets item); fn applies
// it alone, when no other waits or when the batch fails. b must be
// comparable, a pointer for instance: writes of equal b are batched.
func (g *Group) WriteBatched(ctx context.Context, b Batch, item any, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return g.submit(ctx, &groupWrite{ctx: ctx, fn: fn, batch: b, item: item, err: make(chan error, 1)})
}

func (g *Group) submit(ctx context.Context, w *groupWrite) error {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return ErrGroupClosed
	}
	select {
	case g.reqs <- w:
		g.submitted.Add(1)
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
	return GroupStats{Batches: g.batches.Load(), Writes: g.writes.Load(), Submitted: g.submitted.Load()}
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

// run queues writes as they arrive and applies and commits them as soon
// as the syncer is free to take a batch: while the previous batch is being
// synced the queue keeps growing, so the batch size follows the load and
// the disk's latency without any added delay. Applying them only then lets
// a Batch take them all in one pass, and leaves the write lock to other
// writers while the log is synced.
func (g *Group) run() {
	defer close(g.syncs)
	var queued []*groupWrite
	reqs := g.reqs
	for reqs != nil || len(queued) > 0 {
		if len(queued) > 0 && (g.inflight.Load() == 0 || len(queued) >= g.max || reqs == nil) {
			g.commit(queued)
			queued = nil
			continue
		}
		select {
		case w, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			// The others waiting are gathered once the write lock
			// is held: those that arrive while it is awaited join.
			queued = append(queued, w)
		case <-g.idle:
		}
	}
}

// commit applies ws and what arrives while it waits for the write lock, in
// one transaction, and hands them to the syncer.
func (g *Group) commit(ws []*groupWrite) {
	open, err := g.begin(nil)
	if err != nil {
		g.count(len(ws))
		for _, w := range ws {
			w.err <- err
		}
		return
	}
	if open = g.apply(open, g.gather(ws)); open != nil {
		g.finish(open)
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

// gather adds to ws the writes waiting, up to the group's size.
func (g *Group) gather(ws []*groupWrite) []*groupWrite {
	for len(ws) < g.max {
		w, ok := g.poll()
		if !ok {
			break
		}
		ws = append(ws, w)
	}
	return ws
}

// apply takes ws in order: each run of two or more writes of one batch
// together, every other write alone. It returns the transaction still open.
func (g *Group) apply(open *pending, ws []*groupWrite) *pending {
	for len(ws) > 0 {
		n := 1
		for ws[0].batch != nil && n < len(ws) && ws[n].batch == ws[0].batch {
			n++
		}
		if n == 1 {
			open = g.take(open, ws[0])
		} else {
			open = g.takeBatch(open, ws[:n])
		}
		ws = ws[n:]
	}
	return open
}

// begin returns open, or a new transaction holding the write lock when
// open is nil.
func (g *Group) begin(open *pending) (*pending, error) {
	if open != nil {
		return open, nil
	}
	g.db.wmu.Lock()
	tx, err := g.conn.BeginTx(context.Background(), nil)
	if err != nil {
		g.db.wmu.Unlock()
		return nil, fmt.Errorf("beginning transaction: %w", err)
	}
	open = &pending{tx: tx, stmts: map[string]*sql.Stmt{}}
	g.db.groupTx.Store(open)
	return open, nil
}

// take applies w to open, beginning a transaction when there is none, and
// returns the transaction still open (nil when it had to be abandoned).
func (g *Group) take(open *pending, w *groupWrite) *pending {
	open, err := g.begin(open)
	if err != nil {
		g.count(1)
		w.err <- err
		return nil
	}
	open.taken++
	return g.applyAlone(open, w)
}

// applyAlone applies w, already counted in open.taken, in a savepoint.
func (g *Group) applyAlone(open *pending, w *groupWrite) *pending {
	if err := w.ctx.Err(); err != nil {
		w.err <- err
		return open
	}
	fnErr, txErr := g.savepoint(context.Background(), open.tx, w.fn)
	switch {
	case txErr != nil:
		g.abandon(open, []*groupWrite{w}, txErr)
		return nil
	case fnErr != nil:
		// Its writes are undone: its failure is final now.
		w.err <- fnErr
	default:
		open.writes = append(open.writes, w)
	}
	return open
}

// takeBatch applies ws, writes of one batch, in one savepoint, and each
// alone when the batch fails.
func (g *Group) takeBatch(open *pending, ws []*groupWrite) *pending {
	open, err := g.begin(open)
	if err != nil {
		g.count(len(ws))
		for _, w := range ws {
			w.err <- err
		}
		return nil
	}
	open.taken += len(ws)
	var live []*groupWrite
	var items []any
	for _, w := range ws {
		if err := w.ctx.Err(); err != nil {
			w.err <- err
			continue
		}
		live, items = append(live, w), append(items, w.item)
	}
	if len(live) == 0 {
		return open
	}
	var errs []error
	fnErr, txErr := g.savepoint(context.Background(), open.tx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		errs, err = live[0].batch.ApplyBatch(ctx, tx, items)
		if err == nil && errs != nil && len(errs) != len(items) {
			err = fmt.Errorf("a batch of %d writes answered %d", len(items), len(errs))
		}
		return err
	})
	switch {
	case txErr != nil:
		g.abandon(open, live, txErr)
		return nil
	case fnErr != nil:
		// Nothing of the batch is left: each write runs alone, so that
		// the one that broke it fails alone.
		for _, w := range live {
			if open == nil {
				open = g.take(nil, w)
			} else {
				open = g.applyAlone(open, w)
			}
		}
		return open
	}
	for i, w := range live {
		if errs != nil && errs[i] != nil {
			w.err <- errs[i]
		} else {
			open.writes = append(open.writes, w)
		}
	}
	return open
}

// abandon rolls open back: the transaction itself is gone (SQLite rolls
// back on a full disk or an I/O error), so nothing in it will commit, and
// its writes and more are answered err.
func (g *Group) abandon(open *pending, more []*groupWrite, err error) {
	g.db.groupTx.Store(nil)
	_ = open.tx.Rollback()
	g.db.wmu.Unlock()
	g.count(open.taken)
	for _, p := range append(open.writes, more...) {
		p.err <- err
	}
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
