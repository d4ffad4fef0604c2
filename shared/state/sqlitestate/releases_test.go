package sqlitestate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
)

// TestListByPRSearchesItsIndex: whatever else the filter holds, a pull
// request's releases are read through releases_pr, a search of its few
// entries, never a scan of the history.
func TestListByPRSearchesItsIndex(t *testing.T) {
	ctx := context.Background()
	db, s, advance := clockedStore(t)
	// A history in which the pull requests are a small part.
	for i := range 200 {
		advance(time.Second)
		r := state.Release{ID: fmt.Sprintf("web/dev/%03d", i), App: "web", Env: "dev", Digest: "d", State: state.Superseded, PR: i % 50}
		if err := s.PutRelease(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		f    state.ReleaseFilter
	}{
		{"pr", state.ReleaseFilter{PR: 7}},
		// Without INDEXED BY, SQLite prefers (app, env), which has
		// more equality terms.
		{"pr of an app and environment", state.ReleaseFilter{PR: 7, App: "web", Env: "dev"}},
		{"newest of a state", state.ReleaseFilter{PR: 7, App: "web", Env: "dev", State: state.Superseded, Newest: 2}},
		{"newest by update", state.ReleaseFilter{PR: 7, Newest: 2, ByUpdate: true, UpdatedSince: time.Unix(1, 0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			q, args := sqlitestate.ReleasesQuery(f)
			rows, err := db.SQL().QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			searched := false
			for _, d := range plan {
				searched = searched || strings.HasPrefix(d, "SEARCH releases USING INDEX releases_pr (pr=?")
				if strings.HasPrefix(d, "SCAN releases") {
					t.Errorf("the plan scans: %q", d)
				}
			}
			if !searched {
				t.Errorf("the plan does not search releases_pr:\n%s", strings.Join(plan, "\n"))
			}
			rs, err := s.ListReleases(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) == 0 {
				t.Fatal("no release of #7")
			}
			for _, r := range rs {
				if r.PR != 7 {
					t.Errorf("%s of #%d listed for #7", r.ID, r.PR)
				}
			}
		})
	}
}
