package gitops

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkProposeAtScale is issue 15's comparison: one promotion into a
// 10,000-app repository with 3,000 commits of history, against the
// leanest git CLI equivalent (a blob-less shallow clone with a sparse
// checkout of the one app, commit, push). go-git/warm is how the runtimes
// promote: an ObjectCache kept between promotions, so each fetch brings
// only what changed. go-git/cold starts from nothing, as a cold Lambda
// does. Read the ratio from ns/op; the goal is warm ≤ 0.5× git-cli.
func BenchmarkProposeAtScale(b *testing.B) {
	const apps, commits = 10_000, 3_000
	root := benchDir(b)
	base := serveHTTP(b, root, "", "")
	historyRepo(b, filepath.Join(root, "scale.git"), apps, commits)
	url := base + "/scale.git"
	seq := 0
	next := func() (app int, d string) {
		seq++
		return (seq * 7919) % apps, digest(2_000_000 + seq)
	}
	propose := func(b *testing.B, opts ...Option) {
		r, err := New(url, "main", nil, testAuthor, opts...)
		if err != nil {
			b.Fatal(err)
		}
		ctx := b.Context()
		for b.Loop() {
			app, d := next()
			c, err := r.Propose(ctx, fmt.Sprintf("conveyor/dev/app-%05d", app), setAppDigest(app, d), "promote", time.Now())
			if err != nil || !c.Changed {
				b.Fatalf("Propose = %+v, %v", c, err)
			}
		}
	}
	b.Run("go-git/warm", func(b *testing.B) {
		cache := NewObjectCache()
		propose(b, WithObjectCache(cache))
	})
	b.Run("go-git/cold", func(b *testing.B) { propose(b) })
	b.Run("git-cli/sparse", func(b *testing.B) {
		for b.Loop() {
			app, d := next()
			work, err := os.MkdirTemp(root, "sparse-")
			if err != nil {
				b.Fatal(err)
			}
			dir := fmt.Sprintf("apps/%04d", app)
			runGit(b, root, "clone", "-q", "--depth", "1", "--filter=blob:none", "--sparse", "--single-branch", "--branch", "main", url, work)
			runGit(b, work, "sparse-checkout", "set", dir)
			p := filepath.Join(work, dir, "kustomization.yaml")
			old, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, digestLine.ReplaceAll(old, []byte("digest: "+d)), 0o644); err != nil {
				b.Fatal(err)
			}
			runGit(b, work, "commit", "-q", "-am", "promote")
			runGit(b, work, "push", "-q", "-f", "origin", fmt.Sprintf("HEAD:refs/heads/conveyor/dev/cli-%05d", app))
			if err := os.RemoveAll(work); err != nil {
				b.Fatal(err)
			}
		}
	})
}
