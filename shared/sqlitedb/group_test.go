package sqlitedb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/google/go-cmp/cmp"
)

// groupWrite is one write of a batch: it inserts v, then fails when fail
// is set, or is abandoned by its caller when cancelled is.
type groupWrite struct {
	v         string
	fail      bool
	cancelled bool
}

// TestGroupCommitsABatchTogether holds the write lock while writes queue
// up, so that they form one batch, and checks that each write's outcome is
// its own: a failing write leaves no row and fails alone, a cancelled one
// is skipped, the others commit in one transaction.
func TestGroupCommitsABatchTogether(t *testing.T) {
	errBad := errors.New("bad item")
	for _, tc := range []struct {
		name   string
		writes []groupWrite
	}{
		{name: "all commit", writes: []groupWrite{{v: "a"}, {v: "b"}, {v: "c"}, {v: "d"}}},
		{name: "a failing write fails alone", writes: []groupWrite{{v: "a"}, {v: "b", fail: true}, {v: "c"}, {v: "d", fail: true}, {v: "e"}}},
		{name: "a cancelled write is skipped", writes: []groupWrite{{v: "a"}, {v: "b", cancelled: true}, {v: "c"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d := openGroupDB(t)
			g := newGroup(t, d)
			defer g.Close()

			// The first write holds the lock until every other has queued.
			locked, release := make(chan struct{}), make(chan struct{})
			held := make(chan error, 1)
			go func() {
				held <- d.Write(ctx, func(*sql.Tx) error { close(locked); <-release; return nil })
			}()
			<-locked
			var cancels []context.CancelFunc
			errs := make([]chan error, len(tc.writes))
			for i, w := range tc.writes {
				errs[i] = make(chan error, 1)
				wctx, cancel := context.WithCancel(ctx)
				defer cancel()
				if w.cancelled {
					cancels = append(cancels, cancel)
				}
				go func() {
					errs[i] <- g.Write(wctx, func(ctx context.Context, tx *sql.Tx) error {
						if _, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, w.v); err != nil {
							return err
						}
						if w.fail {
							return fmt.Errorf("%s: %w", w.v, errBad)
						}
						return nil
					})
				}()
			}
			waitQueued(t, g, tc.writes)
			// Its caller gives up on a queued write before its turn.
			for _, cancel := range cancels {
				cancel()
			}
			close(release)
			if err := <-held; err != nil {
				t.Fatal(err)
			}

			var want []string
			for i, w := range tc.writes {
				err := <-errs[i]
				switch {
				case w.fail && !errors.Is(err, errBad):
					t.Errorf("write %s: %v, want its own error", w.v, err)
				case w.cancelled && !errors.Is(err, context.Canceled):
					t.Errorf("write %s: %v, want context.Canceled", w.v, err)
				case !w.fail && !w.cancelled && err != nil:
					t.Errorf("write %s: %v, want it committed", w.v, err)
				case !w.fail && !w.cancelled:
					want = append(want, w.v)
				}
			}
			if diff := cmp.Diff(want, rowsOf(t, d)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if got := g.Stats(); got.Batches != 1 {
				t.Errorf("stats %+v: want the %d writes that reached the committer in 1 batch", got, len(tc.writes))
			}
		})
	}
}

func TestGroupRefusesWritesAfterClose(t *testing.T) {
	d := openGroupDB(t)
	g := newGroup(t, d)
	if err := g.Write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES ('before')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	g.Close()
	err := g.Write(context.Background(), func(context.Context, *sql.Tx) error { return nil })
	if !errors.Is(err, sqlitedb.ErrGroupClosed) {
		t.Errorf("Write after Close: %v, want ErrGroupClosed", err)
	}
	if diff := cmp.Diff([]string{"before"}, rowsOf(t, d)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// TestGroupConnectionSettings: the group's connection commits without a
// sync of its own (the syncer syncs) and keeps the journal of each write's
// savepoint in memory: on disk it cost a write system call for every page
// a write touched, on the committer's single goroutine.
func TestGroupConnectionSettings(t *testing.T) {
	g := newGroup(t, openGroupDB(t))
	defer g.Close()
	for _, tc := range []struct {
		pragma string
		want   int
	}{
		{"synchronous", 1}, // NORMAL
		{"temp_store", 2},  // MEMORY
		{"wal_autocheckpoint", sqlitedb.CommitterCheckpointPages},
	} {
		t.Run(tc.pragma, func(t *testing.T) {
			var got int
			err := g.Write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
				return tx.QueryRowContext(ctx, `PRAGMA `+tc.pragma).Scan(&got)
			})
			if err != nil || got != tc.want {
				t.Errorf("PRAGMA %s on the group's connection = %d (%v), want %d", tc.pragma, got, err, tc.want)
			}
		})
	}
}

// TestGroupCheckpointsBesideTheCommitter commits fewer pages than the
// committer's own checkpoint threshold, fewer writes than
// CheckpointWrites, and checks that the write-ahead log
// still reaches the database file: a goroutine beside the committer
// checkpoints, so that the committer does not copy pages and wait for two
// fsyncs in the middle of a batch.
func TestGroupCheckpointsBesideTheCommitter(t *testing.T) {
	d := openGroupDB(t)
	g := newGroup(t, d)
	defer g.Close()
	before := fileSize(t, d.Path())
	row := strings.Repeat("x", 3000)
	for i := range 200 {
		err := g.Write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, fmt.Sprint(i, row))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// 200 rows of 3 KB, one a transaction, are about 500 pages in the
	// log, below CommitterCheckpointPages and SQLite's default of 1,000.
	deadline := time.Now().Add(10 * time.Second)
	for fileSize(t, d.Path()) < before+200*3000 {
		if time.Now().After(deadline) {
			t.Fatalf("database file %d bytes after 200 writes of 3 KB (%d before): the log was not checkpointed", fileSize(t, d.Path()), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestGroupBindsAStatementOncePerTransaction: in a Group's transaction
// Stmt returns the statement it already bound for an earlier write, and a
// write of the next transaction still runs it.
func TestGroupBindsAStatementOncePerTransaction(t *testing.T) {
	d := openGroupDB(t)
	g := newGroup(t, d)
	defer g.Close()
	const insert = `INSERT INTO t (v) VALUES (?)`
	var first *sql.Stmt
	for _, v := range []string{"a", "b"} {
		err := g.Write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
			s, err := d.Stmt(ctx, tx, insert)
			if err != nil {
				return err
			}
			again, err := d.Stmt(ctx, tx, insert)
			if err != nil {
				return err
			}
			if again != s {
				t.Errorf("Stmt bound %q to the group's transaction twice", insert)
			}
			if first == nil {
				first = s
			}
			_, err = again.ExecContext(ctx, v)
			return err
		})
		if err != nil {
			t.Fatalf("writing %s: %v", v, err)
		}
	}
	if diff := cmp.Diff([]string{"a", "b"}, rowsOf(t, d)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	// Outside the group each call binds anew.
	err := d.Write(context.Background(), func(tx *sql.Tx) error {
		s, err := d.Stmt(context.Background(), tx, insert)
		if err == nil && s == first {
			t.Errorf("Stmt returned the group's bound statement to another transaction")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newGroup(t *testing.T, d *sqlitedb.DB) *sqlitedb.Group {
	t.Helper()
	g, err := d.NewGroup(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func openGroupDB(t *testing.T) *sqlitedb.DB {
	t.Helper()
	d, err := sqlitedb.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(context.Background(), `CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return d
}

// waitQueued waits until every one of writes, the group's first, reached
// the committer: one it holds while it waits for the lock, the others in
// its queue, so that they share the transaction it commits next.
func waitQueued(t *testing.T, g *sqlitedb.Group, writes []groupWrite) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.Stats().Submitted < int64(len(writes)) {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes submitted, want %d", g.Stats().Submitted, len(writes))
		}
		time.Sleep(time.Millisecond)
	}
}

func rowsOf(t *testing.T, d *sqlitedb.DB) []string {
	t.Helper()
	rows, err := d.SQL().Query(`SELECT v FROM t ORDER BY v`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}
