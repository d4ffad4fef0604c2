package sqlitedb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/google/go-cmp/cmp"
)

var errRefused = errors.New("refused item")

// rowBatch inserts its items' values in one statement. An item "refuse…"
// fails alone, without writing; an item "break…" makes the batch fail
// after its insert, which must be undone.
type rowBatch struct {
	mu    sync.Mutex
	calls [][]string
}

func (b *rowBatch) ApplyBatch(ctx context.Context, tx *sql.Tx, items []any) ([]error, error) {
	var vals []string
	b.mu.Lock()
	b.calls = append(b.calls, nil)
	b.mu.Unlock()
	errs := make([]error, len(items))
	var args []any
	for i, it := range items {
		v := it.(string)
		vals = append(vals, v)
		if strings.HasPrefix(v, "refuse") {
			errs[i] = fmt.Errorf("%s: %w", v, errRefused)
			continue
		}
		args = append(args, v)
	}
	b.mu.Lock()
	b.calls[len(b.calls)-1] = vals
	b.mu.Unlock()
	if len(args) > 0 {
		q := `INSERT INTO t (v) VALUES ` + strings.TrimSuffix(strings.Repeat("(?), ", len(args)), ", ")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return nil, err
		}
	}
	for _, v := range vals {
		if strings.HasPrefix(v, "break") {
			return nil, fmt.Errorf("batch broken by %s", v)
		}
	}
	return errs, nil
}

// alone is how a rowBatch item is applied by itself: "break…" fails there.
func alone(v string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		if strings.HasPrefix(v, "refuse") {
			return fmt.Errorf("%s: %w", v, errRefused)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, v); err != nil {
			return err
		}
		if strings.HasPrefix(v, "break") {
			return fmt.Errorf("%s alone: %w", v, errRefused)
		}
		return nil
	}
}

// TestGroupAppliesABatchTogether queues writes behind a held lock, so that
// they reach the committer together, and checks how a run of one batch's
// writes is applied: in one ApplyBatch call, in order, split by a plain
// write; an item refused fails alone; a batch that breaks is undone and
// each of its writes applied alone, the bad one failing by itself.
func TestGroupAppliesABatchTogether(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string // "plain:" marks a Write, the rest are WriteBatched
		calls  [][]string
		fail   []string
	}{
		{name: "one call", writes: []string{"a", "b", "c", "d"},
			calls: [][]string{{"a", "b", "c", "d"}}},
		{name: "a plain write splits the run", writes: []string{"a", "b", "plain:p", "c", "d"},
			calls: [][]string{{"a", "b"}, {"c", "d"}}},
		{name: "a single batched write is applied alone", writes: []string{"a", "plain:p", "b"}},
		{name: "a refused item fails alone", writes: []string{"a", "refuse-b", "c"},
			calls: [][]string{{"a", "refuse-b", "c"}}, fail: []string{"refuse-b"}},
		{name: "a broken batch is applied write by write", writes: []string{"a", "break-b", "c"},
			calls: [][]string{{"a", "break-b", "c"}}, fail: []string{"break-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d := openGroupDB(t)
			g := newGroup(t, d)
			t.Cleanup(func() { g.Close() })
			b := &rowBatch{}

			release := holdCommitter(t, d, g)
			errs := make([]chan error, len(tc.writes))
			for i, w := range tc.writes {
				errs[i] = make(chan error, 1)
				go func() {
					if v, ok := strings.CutPrefix(w, "plain:"); ok {
						errs[i] <- g.Write(ctx, alone(v))
						return
					}
					errs[i] <- g.WriteBatched(ctx, b, w, alone(w))
				}()
				waitQueued(t, g, make([]groupWrite, i+2))
			}
			release()

			want := []string{"first"}
			for i, w := range tc.writes {
				err := <-errs[i]
				v := strings.TrimPrefix(w, "plain:")
				failing := slices.Contains(tc.fail, v)
				switch {
				case failing && !errors.Is(err, errRefused):
					t.Errorf("write %s: %v, want it refused", v, err)
				case !failing && err != nil:
					t.Errorf("write %s: %v, want it committed", v, err)
				case !failing:
					want = append(want, v)
				}
			}
			got := rowsOf(t, d)
			if diff := cmp.Diff(slices.Sorted(slices.Values(want)), got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.calls, b.calls); diff != "" {
				t.Errorf("ApplyBatch calls (-want +got):\n%s", diff)
			}
			if st := g.Stats(); st.Writes != int64(len(tc.writes)+1) {
				t.Errorf("stats %+v: want %d writes counted", st, len(tc.writes)+1)
			}
		})
	}
}

// TestGroupSkipsACancelledBatchedWrite: a batched write whose caller gave
// up before its turn is left out of the batch.
func TestGroupSkipsACancelledBatchedWrite(t *testing.T) {
	ctx := context.Background()
	d := openGroupDB(t)
	g := newGroup(t, d)
	t.Cleanup(func() { g.Close() })
	b := &rowBatch{}
	release := holdCommitter(t, d, g)
	vals := []string{"a", "gone", "c"}
	errs := make([]chan error, len(vals))
	cctx, cancel := context.WithCancel(ctx)
	for i, v := range vals {
		errs[i] = make(chan error, 1)
		wctx := ctx
		if v == "gone" {
			wctx = cctx
		}
		go func() { errs[i] <- g.WriteBatched(wctx, b, v, alone(v)) }()
		waitQueued(t, g, make([]groupWrite, i+2))
	}
	cancel()
	release()
	for i, v := range vals {
		err := <-errs[i]
		if (v == "gone") != errors.Is(err, context.Canceled) || v != "gone" && err != nil {
			t.Errorf("write %s: %v", v, err)
		}
	}
	if diff := cmp.Diff([]string{"a", "c", "first"}, rowsOf(t, d)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"a", "c"}}, b.calls); diff != "" {
		t.Errorf("ApplyBatch calls (-want +got):\n%s", diff)
	}
}

var _ sqlitedb.Batch = (*rowBatch)(nil)

// holdCommitter holds d's write lock and has g's committer take a write of
// "first" and wait for the lock, so that the writes submitted next queue
// behind it in order. release lets them through, once the test queued
// them, and waits for the first.
func holdCommitter(t *testing.T, d *sqlitedb.DB, g *sqlitedb.Group) (release func()) {
	t.Helper()
	ctx := context.Background()
	locked, unlock := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- d.Write(ctx, func(*sql.Tx) error { close(locked); <-unlock; return nil })
	}()
	<-locked
	var once sync.Once
	open := func() { once.Do(func() { close(unlock) }) }
	// A test that stops early must not leave Close waiting for the lock.
	t.Cleanup(open)
	first := make(chan error, 1)
	go func() { first <- g.Write(ctx, alone("first")) }()
	waitQueued(t, g, []groupWrite{{}})
	return func() {
		t.Helper()
		open()
		if err := <-held; err != nil {
			t.Fatal(err)
		}
		if err := <-first; err != nil {
			t.Fatal(err)
		}
	}
}
