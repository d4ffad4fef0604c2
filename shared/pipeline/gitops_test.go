package pipeline

import (
	"context"
	"io/fs"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// TestGitOpsFollowsThePipeline proposes into a real repository twice, with
// conveyor.yaml changed in between: each proposal is based on the base
// branch's tip and written by the author the file names at that moment,
// with credentials asked for each operation.
func TestGitOpsFollowsThePipeline(t *testing.T) {
	ctx := t.Context()
	dir := newRepo(t, map[string]string{File: pipelineYAML("First"), "envs/dev/tag": "v1\n"})
	asked := 0
	auth := func(context.Context, string) (transport.AuthMethod, error) {
		asked++
		return nil, nil
	}
	g := &GitOps{URL: dir, Config: NewCache(dir, "main", nil).Config, Auth: auth}
	edit := func(tag string) func(fs.FS) (map[string][]byte, error) {
		return func(fs.FS) (map[string][]byte, error) { return map[string][]byte{"envs/dev/tag": []byte(tag)}, nil }
	}
	for i, step := range []struct {
		author, branch, tag string
	}{
		{"First", "conveyor/dev-v2", "v2\n"},
		{"Second", "conveyor/dev-v3", "v3\n"},
	} {
		if i > 0 {
			commit(t, dir, map[string]string{File: pipelineYAML(step.author)})
		}
		c, err := g.Propose(ctx, step.branch, edit(step.tag), "promote", time.Unix(1_700_000_000, 0))
		if err != nil {
			t.Fatal(err)
		}
		if base := git(t, dir, "rev-parse", "main"); c.Base != base {
			t.Errorf("%s is based on %s, want main's tip %s", step.branch, c.Base, base)
		}
		if got := git(t, dir, "log", "-1", "--format=%an", step.branch); got != step.author {
			t.Errorf("%s is written by %q, want %q", step.branch, got, step.author)
		}
	}
	snaps, err := g.History(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 2 {
		t.Errorf("History: %d commits of main, want 2", len(snaps))
	}
	if asked != 3 {
		t.Errorf("credentials asked %d times, want once per operation (3)", asked)
	}
}
