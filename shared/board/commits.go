package board

import (
	"context"
	"sync"

	"github.com/conveyor-gitops/conveyor/shared/history"
)

// commitCache keeps commits read from source repositories: a commit never
// changes, so a page refreshed every second reads each one once.
type commitCache struct {
	mu  sync.Mutex
	max int
	m   map[string]history.Commit
}

func newCommitCache(max int) *commitCache {
	return &commitCache{max: max, m: map[string]history.Commit{}}
}

// commit returns the source commit's author and message, from the
// Commits port or else from the build's record, or nil when neither has
// them (the cell then shows the commit id alone).
func (b *Board) commit(ctx context.Context, app, repo, sha string) *history.Commit {
	if sha == "" || (b.src.Commits == nil && b.src.Builds == nil) {
		return nil
	}
	key := repo + "@" + sha
	b.cache.mu.Lock()
	c, ok := b.cache.m[key]
	b.cache.mu.Unlock()
	if ok {
		return &c
	}
	c, ok = b.read(ctx, app, repo, sha)
	if !ok {
		return nil
	}
	b.cache.mu.Lock()
	if len(b.cache.m) >= b.cache.max {
		// Forgetting everything is simple and rare: a board shows a few
		// commits per app.
		clear(b.cache.m)
	}
	b.cache.m[key] = c
	b.cache.mu.Unlock()
	return &c
}

func (b *Board) read(ctx context.Context, app, repo, sha string) (history.Commit, bool) {
	if b.src.Commits != nil && repo != "" {
		c, err := b.src.Commits.Commit(ctx, repo, sha)
		if err == nil {
			return c, true
		}
		b.log.DebugContext(ctx, "reading a source commit for the board", "commit", sha, "err", err)
	}
	if b.src.Builds != nil && app != "" {
		c, err := b.src.Builds.BuiltCommit(ctx, app, sha)
		if err == nil && (c.Author != "" || c.Message != "") {
			return c, true
		}
		b.log.DebugContext(ctx, "reading a build record for the board", "app", app, "commit", sha, "err", err)
	}
	return history.Commit{}, false
}
