package coalesce_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/coalesce"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/google/go-cmp/cmp"
)

// step is one call against a key's record: a producer's Want, a
// consumer's Decide, after the clock moved by at.
type step struct {
	at   time.Duration
	op   string // "want", "decide"
	work string
	want string // for "decide": the verdict, with "wait 1m0s" or "supersede by x"
}

// byName orders work by its name: "c3" is newer than "c2".
func byName(_ context.Context, wanted state.Latest, w coalesce.Work) (bool, error) {
	return wanted.Work > w.ID, nil
}

func TestDecide(t *testing.T) {
	const settle = time.Minute
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{
			name: "a burst queued before consumption: only the newest proceeds, at the window's end",
			steps: []step{
				{op: "want", work: "c1"}, {at: time.Second, op: "want", work: "c2"}, {op: "want", work: "c3"},
				{op: "decide", work: "c1", want: "supersede by c3"},
				{op: "decide", work: "c2", want: "supersede by c3"},
				{op: "decide", work: "c3", want: "wait 59s"},
				{at: 59 * time.Second, op: "decide", work: "c3", want: "proceed"},
			},
		},
		{
			name: "work queued during the window joins it: the window does not move",
			steps: []step{
				{op: "want", work: "c1"}, {op: "decide", work: "c1", want: "wait 1m0s"},
				{at: 50 * time.Second, op: "want", work: "c2"},
				{at: 10 * time.Second, op: "decide", work: "c1", want: "supersede by c2"},
				{op: "decide", work: "c2", want: "proceed"},
			},
		},
		{
			name: "work after the last went ahead opens a new window",
			steps: []step{
				{op: "want", work: "c1"}, {at: time.Minute, op: "decide", work: "c1", want: "proceed"},
				{at: time.Hour, op: "want", work: "c2"}, {op: "decide", work: "c2", want: "wait 1m0s"},
			},
		},
		{
			// Under load a proposal takes seconds: work queued while it
			// runs must not join the ended window and go straight ahead.
			name: "work queued while the proceeding work runs opens a new window",
			steps: []step{
				{op: "want", work: "c1"}, {at: time.Minute, op: "decide", work: "c1", want: "proceed"},
				{at: time.Second, op: "want", work: "c2"}, {op: "decide", work: "c2", want: "wait 1m0s"},
				{op: "decide", work: "c2", want: "wait 1m0s"},
				{at: time.Minute, op: "decide", work: "c2", want: "proceed"},
			},
		},
		{
			name: "a retry of proceeding work proceeds until newer work is wanted",
			steps: []step{
				{op: "want", work: "c1"}, {at: time.Minute, op: "decide", work: "c1", want: "proceed"},
				{at: time.Second, op: "decide", work: "c1", want: "proceed"},
				{op: "want", work: "c2"}, {op: "decide", work: "c1", want: "supersede by c2"},
			},
		},
		{
			name: "a redelivery of work that went ahead proceeds (its handler is idempotent)",
			steps: []step{
				{op: "want", work: "c1"}, {at: time.Minute, op: "decide", work: "c1", want: "proceed"},
				{op: "decide", work: "c1", want: "proceed"},
			},
		},
		{
			name: "an older work queued last is corrected by the newer one's consumer",
			steps: []step{
				{op: "want", work: "c3"}, {op: "want", work: "c2"},
				{op: "decide", work: "c3", want: "wait 1m0s"},
				{op: "decide", work: "c2", want: "supersede by c3"},
				{at: time.Minute, op: "decide", work: "c3", want: "proceed"},
			},
		},
		{
			name: "work nobody recorded (a replay, a reconcile) records itself",
			steps: []step{
				{op: "decide", work: "c1", want: "wait 1m0s"},
				{op: "decide", work: "c0", want: "supersede by c1"},
			},
		},
		{
			// Coalescing only skips: the promote gate, not the record,
			// keeps an environment from moving back to c4.
			name: "older work queued after newer work is done opens a window of its own",
			steps: []step{
				{op: "want", work: "c5"}, {at: time.Minute, op: "decide", work: "c5", want: "proceed"},
				{op: "want", work: "c4"}, {op: "decide", work: "c4", want: "wait 1m0s"},
			},
		},
		{
			name: "older work never queued through Want, after newer work is done, is superseded",
			steps: []step{
				{op: "want", work: "c5"}, {at: time.Minute, op: "decide", work: "c5", want: "proceed"},
				{op: "decide", work: "c4", want: "supersede by c5"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
			c := coalesce.Coalescer{Store: newStore(t), Now: func() time.Time { return now }}
			ctx := context.Background()
			for i, s := range tc.steps {
				now = now.Add(s.at)
				w := coalesce.Work{Key: "promote/web/dev", ID: s.work}
				var err error
				switch s.op {
				case "want":
					err = c.Want(ctx, w, settle)
				case "decide":
					var d coalesce.Decision
					d, err = c.Decide(ctx, w, settle, byName)
					if diff := cmp.Diff(s.want, verdict(d)); diff != "" {
						t.Errorf("step %d: Decide(%s) (-want +got):\n%s", i, s.work, diff)
					}
				}
				if err != nil {
					t.Fatalf("step %d: %s %s: %v", i, s.op, s.work, err)
				}
			}
		})
	}
}

// TestDecideOrderError: when the order cannot be read the consumer
// neither proceeds nor skips: the error is retried.
func TestDecideOrderError(t *testing.T) {
	c := coalesce.Coalescer{Store: newStore(t)}
	ctx := context.Background()
	if err := c.Want(ctx, coalesce.Work{Key: "k", ID: "c2"}, 0); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("history unreadable")
	_, err := c.Decide(ctx, coalesce.Work{Key: "k", ID: "c1"}, 0, func(context.Context, state.Latest, coalesce.Work) (bool, error) { return false, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Decide = %v, want %v", err, boom)
	}
}

// TestConcurrentWants: producers racing on one key all land; the record
// names one of them and none is lost to a conflict.
func TestConcurrentWants(t *testing.T) {
	c := coalesce.Coalescer{Store: newStore(t)}
	ctx := context.Background()
	errs := make(chan error, 8)
	for i := range 8 {
		go func() { errs <- c.Want(ctx, coalesce.Work{Key: "k", ID: string(rune('a' + i))}, 0) }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	l, err := c.Store.GetLatest(ctx, "k")
	if err != nil || l.Work == "" {
		t.Fatalf("GetLatest = %+v, %v", l, err)
	}
}

func verdict(d coalesce.Decision) string {
	switch d.Verdict {
	case coalesce.Wait:
		return "wait " + d.Wait.String()
	case coalesce.Supersede:
		return "supersede by " + d.Newer.Work
	}
	return d.Verdict.String()
}

func newStore(t *testing.T) *sqlitestate.Store {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := sqlitestate.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
