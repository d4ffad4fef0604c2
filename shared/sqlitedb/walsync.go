package sqlitedb

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// syncer answers committed batches once the write-ahead log holding them
// is on disk. Batches committed while it syncs share its next sync.
func (g *Group) syncer() {
	defer close(g.done)
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
