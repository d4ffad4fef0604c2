package build_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/google/go-cmp/cmp"
)

// TestCommitsReadTheBuildRecord: the board's fallback for commit details
// reads what the build recorded from its clone, and says when there is no
// build or its record is not one.
func TestCommitsReadTheBuildRecord(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := sqlitestate.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	sha := strings.Repeat("ab", 20)
	out, _ := json.Marshal(build.Built{Author: "Alice <alice@example.test>", Subject: "web: <b>faster</b>"})
	if err := st.Complete(ctx, build.Key("web", sha), out, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.Complete(ctx, build.Key("api", sha), []byte("not json"), time.Hour); err != nil {
		t.Fatal(err)
	}
	c := build.Commits{Records: st}
	got, err := c.BuiltCommit(ctx, "web", sha)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(history.Commit{ID: sha, Author: "Alice <alice@example.test>", Message: "web: <b>faster</b>"}, got); diff != "" {
		t.Errorf("BuiltCommit (-want +got):\n%s", diff)
	}
	if _, err := c.BuiltCommit(ctx, "web", strings.Repeat("cd", 20)); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("an unbuilt commit: %v, want ErrNotFound", err)
	}
	if _, err := c.BuiltCommit(ctx, "api", sha); err == nil || !strings.Contains(err.Error(), "build record of api") {
		t.Errorf("a record that is not a build's: %v, want an error naming it", err)
	}
}
