package sqlitedb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// syncer answers committed batches once the write-ahead log holding them
// is on disk. Batches committed while it syncs share its next sync.
func (g *Group) syncer() {
	defer close(g.done)
	defer close(g.pokes)
	for batch := range g.syncs {
		ws, n := batch, int64(1)
	drain:
		for {
			select {
			case more, ok := <-g.syncs:
				if !ok {
					break drain
				}
				ws, n = append(ws, more...), n+1
			default:
				break drain
			}
		}
		err := g.syncWAL()
		for _, w := range ws {
			w.err <- err
		}
		g.unckpt.Add(int64(len(ws)))
		select {
		case g.pokes <- struct{}{}:
		default:
		}
		if g.inflight.Add(-n) == 0 {
			select {
			case g.idle <- struct{}{}:
			default:
			}
		}
	}
}

// syncWAL makes what was committed durable, as synchronous=FULL would have
// at each commit: it fsyncs the write-ahead log (the group's connection
// keeps it from being deleted) and, for a log created since the last sync,
// the directory that names it. A checkpoint that moved frames into the
// database synced them there first.
func (g *Group) syncWAL() error {
	path := g.db.path + "-wal"
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("syncing the write-ahead log: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Ino == g.walIno {
		return nil
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("syncing the directory of %s: %w", path, err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("syncing the directory of %s: %w", path, err)
	}
	g.walIno = st.Ino
	return nil
}

// checkpointer copies the write-ahead log into the database file once
// CheckpointWrites writes were synced, or checkpointIdle after fewer. It
// checkpoints on a pooled connection (synchronous=FULL: the log is synced
// before it is copied, the database after) and PASSIVE: beside the
// committer's transaction, never waiting for it.
func (g *Group) checkpointer() {
	defer close(g.ckptDone)
	idle := time.NewTimer(checkpointIdle)
	idle.Stop()
	armed := false
	for {
		select {
		case _, ok := <-g.pokes:
			if !ok {
				idle.Stop()
				return
			}
			if g.unckpt.Load() < CheckpointWrites {
				if !armed {
					idle.Reset(checkpointIdle)
					armed = true
				}
				continue
			}
		case <-idle.C:
		}
		idle.Stop()
		armed = false
		if g.unckpt.Swap(0) > 0 {
			g.checkpoint()
		}
	}
}

// checkpoint runs one passive checkpoint. Its failure is left for the next
// one: the committer's own auto-checkpoint still bounds the log.
func (g *Group) checkpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = g.db.sql.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
}
