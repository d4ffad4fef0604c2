package gitops

import (
	"slices"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Decoding a directory of 10,000 apps takes about 3 ms, and a promotion read
// it twice (to find the file it edits, then to rewrite the directory):
// directories that large are kept decoded, by hash, for the process. A
// hash names the same content in every repository, so the cache is shared;
// a cached tree is read only through its Entries, never through methods
// that reach the storer it was decoded from, and never changed.
const (
	// bigTree is the entry count from which a decoded tree is kept.
	bigTree = 1024
	// treeCacheEntries bounds the entries kept in all: about 1 MB per
	// 10,000.
	treeCacheEntries = 200_000
)

var bigTrees = &treeCache{m: map[plumbing.Hash]*object.Tree{}}

type treeCache struct {
	mu      sync.Mutex
	m       map[plumbing.Hash]*object.Tree
	order   []plumbing.Hash // oldest first
	entries int
}

func (c *treeCache) get(h plumbing.Hash) *object.Tree {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[h]
}

func (c *treeCache) put(t *object.Tree) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[t.Hash]; ok {
		return
	}
	c.m[t.Hash] = t
	c.order = append(c.order, t.Hash)
	c.entries += len(t.Entries)
	for c.entries > treeCacheEntries && len(c.order) > 1 {
		old := c.order[0]
		c.order = c.order[1:]
		c.entries -= len(c.m[old].Entries)
		delete(c.m, old)
	}
}

// getTree returns the tree h decoded from st, from the cache when it is big.
func getTree(st storer.EncodedObjectStorer, h plumbing.Hash) (*object.Tree, error) {
	if t := bigTrees.get(h); t != nil {
		return t, nil
	}
	t, err := object.GetTree(st, h)
	if err != nil {
		return nil, err
	}
	if len(t.Entries) >= bigTree {
		bigTrees.put(t)
	}
	return t, nil
}

// findEntry returns the index of name in entries, which are in git's order,
// or -1. The name may be a file's or a directory's, which sort differently
// ("a" as a directory sorts as "a/"), so both places are searched.
func findEntry(entries []object.TreeEntry, name string) int {
	for _, mode := range []filemode.FileMode{filemode.Regular, filemode.Dir} {
		i, found := slices.BinarySearchFunc(entries, object.TreeEntry{Name: name, Mode: mode}, byGitOrder)
		if found && entries[i].Name == name {
			return i
		}
	}
	return -1
}
