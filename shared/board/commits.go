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

// commit returns the source commit's author and message, or nil when there
// is no Commits port or it cannot read the commit (the cell then shows the
// commit id alone).
func (b *Board) commit(ctx context.Context, repo, sha string) *history.Commit {
	if b.src.Commits == nil || repo == "" || sha == "" {
		return nil
	}
	key := repo + "@" + sha
	b.cache.mu.Lock()
	c, ok := b.cache.m[key]
	b.cache.mu.Unlock()
	if ok {
		return &c
	}
	c, err := b.src.Commits.Commit(ctx, repo, sha)
	if err != nil {
		b.log.DebugContext(ctx, "reading a source commit for the board", "commit", sha, "err", err)
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
