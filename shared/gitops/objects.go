package gitops

import (
	"context"
	"fmt"
	"sync"

	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// maxCachedFetches is how many fetches an ObjectCache keeps before it
// starts afresh: each fetch adds a small packfile, and a long-running
// process must not hold every tree it ever saw.
const maxCachedFetches = 256

// ObjectCache keeps the objects fetched from a GitOps repository between
// operations of the same process (a warm Lambda, the local runtime), so a
// promotion fetches only what changed since the last one instead of the
// whole tree of the base branch: the server is told which commits the
// cache has and sends the difference. Operations that share a cache run
// their fetch and edit one at a time; their pushes still overlap. The
// zero value is not usable: call NewObjectCache.
type ObjectCache struct {
	mu      sync.Mutex
	url     string
	st      *filesystem.Storage
	fetches int
}

// NewObjectCache returns an empty cache.
func NewObjectCache() *ObjectCache { return &ObjectCache{} }

// WithObjectCache makes Propose fetch into c and keep what it fetched for
// the next operation (default: every operation starts from nothing).
func WithObjectCache(c *ObjectCache) Option {
	return func(o *options) error {
		o.objects = c
		return nil
	}
}

// session locks the cache and returns a session on its store for the
// repository at u, and the function that unlocks it. A cache that served
// another URL, or has served enough fetches, starts afresh.
func (c *ObjectCache) session(u string) (*session, func()) {
	c.mu.Lock()
	if c.st == nil || c.url != u || c.fetches >= maxCachedFetches {
		c.st, c.url, c.fetches = newStore(), u, 0
	}
	c.fetches++
	rem := git.NewRemote(c.st, &config.RemoteConfig{Name: remoteName, URLs: []string{u}})
	return &session{st: c.st, rem: rem, warm: c.fetches > 1, cache: c}, c.mu.Unlock
}

// restart empties the cache that s, which holds its lock, belongs to, and
// points s at the empty store: the next fetch starts cold.
func (c *ObjectCache) restart(s *session) {
	c.st, c.fetches = newStore(), 1
	s.st, s.warm = c.st, false
	s.rem = git.NewRemote(c.st, &config.RemoteConfig{Name: remoteName, URLs: s.rem.Config().URLs})
}

// newStore is an empty object store in memory. A packfile is kept whole
// and read through its index: objects are inflated when read, and one over
// MaxFileSize is never held (a memory.Storage inflated and kept every
// blob: a 150 MB values file anywhere in the tree held about 970 MB before
// anything refused it).
func newStore() *filesystem.Storage {
	return filesystem.NewStorageWithOptions(memfs.New(), cache.NewObjectLRU(32<<20),
		filesystem.Options{LargeObjectThreshold: MaxFileSize, ExclusiveAccess: true})
}

// ReadFileCached is ReadFile for a remote repository's branch through c:
// after the first call it fetches only the commits the branch gained, so
// re-reading conveyor.yaml after each merge does not fetch the whole tree
// again. A local repository, or an empty branch (HEAD), is read as
// ReadFile reads it.
func ReadFileCached(ctx context.Context, c *ObjectCache, location, branch, path string, auth transport.AuthMethod) ([]byte, string, error) {
	if c == nil || branch == "" || !IsRemote(location) {
		return ReadFile(ctx, location, branch, path, auth)
	}
	r := &Repo{URL: location, Base: branch, Auth: auth, opts: options{objects: c}}
	s, done, err := r.openSession()
	if err != nil {
		return nil, "", err
	}
	defer done()
	commits, err := r.fetch(ctx, s, branch)
	if err != nil {
		return nil, "", err
	}
	tip := commits[0]
	data, err := fileAt(tip, path)
	if err != nil {
		return nil, "", fmt.Errorf("reading %s at %s of %s: %w", path, short(tip.Hash.String()), r.where(), err)
	}
	return data, tip.Hash.String(), nil
}

// ViewTip calls fn with a snapshot of the tip of branch (HEAD when empty)
// in the repository at location, fetched as ReadFileCached fetches, and
// returns the tip's commit. Reading a file and listing directories from one
// snapshot sees them at the same commit. fn runs while c is held and must
// not keep the snapshot.
func ViewTip(ctx context.Context, c *ObjectCache, location, branch string, auth transport.AuthMethod, fn func(*Snapshot) error) (string, error) {
	if c == nil || branch == "" || !IsRemote(location) {
		tip, st, err := tipCommit(ctx, location, branch, auth)
		if err != nil {
			return "", err
		}
		return viewCommit(st, tip, location, fn)
	}
	r := &Repo{URL: location, Base: branch, Auth: auth, opts: options{objects: c}}
	s, done, err := r.openSession()
	if err != nil {
		return "", err
	}
	defer done()
	commits, err := r.fetch(ctx, s, branch)
	if err != nil {
		return "", err
	}
	return viewCommit(s.st, commits[0], location, fn)
}

func viewCommit(st storer.EncodedObjectStorer, c *object.Commit, location string, fn func(*Snapshot) error) (string, error) {
	snap, err := newSnapshot(st, c)
	if err != nil {
		return "", fmt.Errorf("reading commit %s of %s: %w", short(c.Hash.String()), logging.RedactURLs(location), err)
	}
	return c.Hash.String(), fn(snap)
}
