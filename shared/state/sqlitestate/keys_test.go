package sqlitestate_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/google/go-cmp/cmp"
)

// clockedStore is a store on a real database with a clock the test moves.
func clockedStore(t *testing.T) (*sqlitedb.DB, *sqlitestate.Store, func(time.Duration)) {
	t.Helper()
	var mu sync.Mutex
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	db, err := sqlitedb.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := sqlitestate.Open(context.Background(), db,
		sqlitestate.WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now }))
	if err != nil {
		t.Fatal(err)
	}
	return db, s, func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
}

// TestLiveKeysTxAgreesWithLiveTx: the one-read lookup of several keys
// reports for each key exactly what LiveTx reports for it alone.
func TestLiveKeysTxAgreesWithLiveTx(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		keys []string
	}{
		{"none", nil},
		{"one free", []string{"free"}},
		{"completed and claimed", []string{"done", "claimed"}},
		{"expired ones are free", []string{"done-expired", "claimed-expired", "done"}},
		{"a key twice", []string{"done", "free", "done"}},
		{"many", []string{"a", "b", "c", "d", "e", "done", "f", "claimed"}},
		{"more than one read holds", append(numbered(150), "done", "claimed")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, s, advance := clockedStore(t)
			for key, lease := range map[string]time.Duration{"claimed-expired": time.Minute, "claimed": time.Hour} {
				if _, ok, err := s.Claim(ctx, key, lease); err != nil || !ok {
					t.Fatalf("claiming %s: %v %v", key, ok, err)
				}
			}
			for key, keep := range map[string]time.Duration{"done-expired": time.Minute, "done": time.Hour} {
				if err := s.Complete(ctx, key, []byte("result of "+key), keep); err != nil {
					t.Fatal(err)
				}
			}
			advance(2 * time.Minute)
			err := db.Write(ctx, func(tx *sql.Tx) error {
				want := map[string]state.Idem{}
				for _, key := range tt.keys {
					if rec, live, err := s.LiveTx(ctx, tx, key); err != nil {
						return err
					} else if live {
						want[key] = rec
					}
				}
				got, err := s.LiveKeysTx(ctx, tx, tt.keys)
				if err != nil {
					return err
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("live records of %v (-LiveTx +LiveKeysTx):\n%s", tt.keys, diff)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// numbered returns n free keys.
func numbered(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	return keys
}

// TestCompleteEachTxRecordsEveryKey: one write records each event's
// result under every key of the event, over a claim, an expired record or
// nothing, as CompleteTx does key by key; a key two events name holds the
// later one's result.
func TestCompleteEachTxRecordsEveryKey(t *testing.T) {
	ctx := context.Background()
	one := func(keys ...string) []sqlitestate.Completion {
		return []sqlitestate.Completion{{Keys: keys, Result: []byte("new result"), Retention: 24 * time.Hour}}
	}
	tests := []struct {
		name string
		cs   []sqlitestate.Completion
	}{
		{"none", nil},
		{"one new", one("new")},
		{"over a claim and a completed record", one("claimed", "done", "new")},
		{"a key twice", one("new", "new")},
		{"many", one("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")},
		{"two events sharing a key", []sqlitestate.Completion{
			{Keys: []string{"a", "shared"}, Result: []byte("first"), Retention: time.Hour},
			{Keys: []string{"shared", "b"}, Result: []byte("second"), Retention: 2 * time.Hour}}},
		{"more rows than one statement holds", one(manyKeys(sqlitedb.MaxRowsPerStatement*2 + 3)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, s, advance := clockedStore(t)
			if _, ok, err := s.Claim(ctx, "claimed", time.Hour); err != nil || !ok {
				t.Fatalf("claiming: %v %v", ok, err)
			}
			if err := s.Complete(ctx, "done", []byte("old"), time.Hour); err != nil {
				t.Fatal(err)
			}
			advance(time.Minute)
			err := db.Write(ctx, func(tx *sql.Tx) error { return s.CompleteEachTx(ctx, tx, tt.cs) })
			if err != nil {
				t.Fatal(err)
			}
			// The last completion naming a key is what it holds.
			last := map[string]sqlitestate.Completion{}
			for _, c := range tt.cs {
				for _, k := range c.Keys {
					last[k] = c
				}
			}
			for key, c := range last {
				got, err := s.Get(ctx, key)
				if err != nil {
					t.Fatalf("reading %s: %v", key, err)
				}
				want := state.Idem{Key: key, Status: state.Completed, Result: c.Result,
					ExpiresAt: got.UpdatedAt.Add(c.Retention), UpdatedAt: got.UpdatedAt}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("record of %s (-want +got):\n%s", key, diff)
				}
				if want := time.Date(2026, 12, 2, 8, 1, 0, 0, time.UTC); !got.UpdatedAt.Equal(want) {
					t.Errorf("%s updated at %v, want %v", key, got.UpdatedAt, want)
				}
			}
		})
	}
}

func manyKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%03d", i)
	}
	return keys
}
