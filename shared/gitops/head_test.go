package gitops

import (
	"testing"
)

// TestHead reads a branch's tip without fetching, over each transport, and
// sees another writer's push.
func TestHead(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ctx := testContext(t)
			dir, url := tr.setup(t)
			for _, branch := range []string{"main", ""} {
				got, err := Head(ctx, url, branch, nil)
				if err != nil {
					t.Fatal(err)
				}
				if want := runGit(t, dir, "rev-parse", "main"); got != want {
					t.Errorf("Head(%q) = %s, want %s", branch, got, want)
				}
			}
			moved := pushCommit(t, url, "main", map[string]string{"README.md": "moved\n"})
			if got, err := Head(ctx, url, "main", nil); err != nil || got != moved {
				t.Errorf("Head after a push = %s, %v; want %s", got, err, moved)
			}
			if got, err := Head(ctx, url, "absent", nil); err == nil {
				t.Errorf("Head(absent) = %s, want an error", got)
			}
		})
	}
}
