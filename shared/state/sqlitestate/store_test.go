package sqlitestate_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/conveyor-gitops/conveyor/shared/state/statetest"
)

func TestContract(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	statetest.Run(t, statetest.Harness{
		New: func(t *testing.T) state.Store {
			db, err := sqlitedb.Open(context.Background(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			s, err := sqlitestate.Open(context.Background(), db, sqlitestate.WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Advance: func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() },
	})
}

// TestOpenAddsColumnsToAnOlderDatabase: a data directory written before the
// head, approvers and override were recorded, and before releases were
// indexed by pull request, opens, keeps its releases, finds them by pull
// request and stores the new fields.
func TestOpenAddsColumnsToAnOlderDatabase(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	old := `CREATE TABLE releases (id TEXT PRIMARY KEY, app TEXT NOT NULL, env TEXT NOT NULL, image TEXT NOT NULL DEFAULT '',
		digest TEXT NOT NULL, tag TEXT NOT NULL DEFAULT '', source_repo TEXT NOT NULL DEFAULT '', source_commit TEXT NOT NULL DEFAULT '',
		source_time INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, rollback INTEGER NOT NULL DEFAULT 0, pr INTEGER NOT NULL DEFAULT 0,
		pr_url TEXT NOT NULL DEFAULT '', branch TEXT NOT NULL DEFAULT '', merge_commit TEXT NOT NULL DEFAULT '',
		merged_by TEXT NOT NULL DEFAULT '', trace_id TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, merged_at INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL)`
	insert := `INSERT INTO releases(id, app, env, digest, state, pr, created_at, updated_at, version) VALUES ('web/dev/d', 'web', 'dev', 'd', 'merged', 4, 1, 1, 1)`
	if err := db.Migrate(ctx, old, insert); err != nil {
		t.Fatal(err)
	}
	s, err := sqlitestate.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.GetRelease(ctx, "web/dev/d")
	if err != nil || r.State != state.Merged || r.HeadSHA != "" || r.ApprovedBy != nil {
		t.Fatalf("old release %+v (%v), want it merged with no head or approvers", r, err)
	}
	// The pull request index is built over the rows already there.
	if byPR, err := s.ListReleases(ctx, state.ReleaseFilter{PR: 4}); err != nil || len(byPR) != 1 || byPR[0].ID != r.ID {
		t.Fatalf("releases of #4 after the upgrade: %+v (%v), want %s", byPR, err, r.ID)
	}
	r.HeadSHA, r.ApprovedBy, r.Override = "h1", []string{"alice", "bob"}, "incident 42"
	if err := s.PutRelease(ctx, &r); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRelease(ctx, r.ID)
	if err != nil || got.HeadSHA != "h1" || strings.Join(got.ApprovedBy, ",") != "alice,bob" || got.Override != "incident 42" {
		t.Fatalf("release after the upgrade %+v (%v)", got, err)
	}
	// Opening again changes nothing.
	if _, err := sqlitestate.Open(ctx, db); err != nil {
		t.Fatalf("second open: %v", err)
	}
}
