package gitops

import (
	"fmt"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// storeTree writes a tree of n files into st.
func storeTree(t *testing.T, st *memory.Storage, n int, salt string) plumbing.Hash {
	t.Helper()
	tree := &object.Tree{}
	for i := range n {
		h := plumbing.ComputeHash(plumbing.BlobObject, []byte(salt))
		tree.Entries = append(tree.Entries, object.TreeEntry{Name: fmt.Sprintf("app-%05d", i), Mode: filemode.Regular, Hash: h})
	}
	obj := st.NewEncodedObject()
	if err := tree.Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestTreeCacheKeepsBigTreesWithinItsBound(t *testing.T) {
	saved := bigTrees
	bigTrees = &treeCache{m: map[plumbing.Hash]*object.Tree{}}
	t.Cleanup(func() { bigTrees = saved })

	st := memory.NewStorage()
	small := storeTree(t, st, bigTree-1, "s")
	a, _ := getTree(st, small)
	b, _ := getTree(st, small)
	if a == b {
		t.Error("a small tree was kept: decoding it is cheaper than holding it")
	}

	var big []plumbing.Hash
	for i := range treeCacheEntries/bigTree + 2 {
		big = append(big, storeTree(t, st, bigTree, fmt.Sprint(i)))
	}
	first, err := getTree(st, big[0])
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := getTree(st, big[0]); again != first {
		t.Error("a big tree was decoded again")
	}
	for _, h := range big[1:] {
		if _, err := getTree(st, h); err != nil {
			t.Fatal(err)
		}
	}
	if bigTrees.entries > treeCacheEntries {
		t.Errorf("the cache holds %d entries, over its bound of %d", bigTrees.entries, treeCacheEntries)
	}
	if bigTrees.get(big[0]) != nil {
		t.Error("the oldest tree was not evicted")
	}
	if bigTrees.get(big[len(big)-1]) == nil {
		t.Error("the newest tree was evicted")
	}
}

// TestFindEntry: a name is found whether it is a file or a directory,
// which sort apart ("a" as a directory sorts as "a/", after "a.b").
func TestFindEntry(t *testing.T) {
	entries := []object.TreeEntry{
		{Name: "a-b", Mode: filemode.Regular},
		{Name: "a.b", Mode: filemode.Regular},
		{Name: "a", Mode: filemode.Dir},
		{Name: "a0", Mode: filemode.Executable},
		{Name: "b", Mode: filemode.Regular},
		{Name: "c", Mode: filemode.Submodule},
	}
	for i, e := range entries {
		if got := findEntry(entries, e.Name); got != i {
			t.Errorf("findEntry(%q) = %d, want %d", e.Name, got, i)
		}
	}
	for _, name := range []string{"", "a/", "a.", "ab", "d"} {
		if got := findEntry(entries, name); got != -1 {
			t.Errorf("findEntry(%q) = %d, want -1", name, got)
		}
	}
}
