package sqlitecommit

import (
	"context"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
)

// Stack is a committer on a fresh database, with the queues and store it
// commits to: the tests of this package and of sqlitecommit_test build on
// it.
type Stack struct {
	DB        *sqlitedb.DB
	Broker    *sqlitequeue.Broker
	Store     *sqlitestate.Store
	Committer *Committer
}

// OpenStack opens a Stack in a temporary directory; it closes with t.
func OpenStack(t *testing.T) *Stack {
	t.Helper()
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := sqlitequeue.Open(ctx, db, queue.Topology)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlitestate.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, db, b, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &Stack{DB: db, Broker: b, Store: st, Committer: c}
}
