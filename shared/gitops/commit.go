package gitops

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// node is one path element of a change set: a leaf writes (or, with nil
// data, deletes) a file; an inner node is a directory holding changes.
type node struct {
	leaf     bool
	data     []byte
	children map[string]*node
}

// changeTree arranges changes by directory. A bad path is the edit's bug, so
// it is permanent.
func changeTree(changes map[string][]byte) (*node, error) {
	root := &node{children: map[string]*node{}}
	for p, data := range changes {
		if !fs.ValidPath(p) || p == "." {
			return nil, retry.Permanent(fmt.Errorf("invalid path %q", p))
		}
		n := root
		parts := strings.Split(p, "/")
		for i, part := range parts {
			if strings.EqualFold(part, ".git") {
				return nil, retry.Permanent(fmt.Errorf("invalid path %q", p))
			}
			child, ok := n.children[part]
			last := i == len(parts)-1
			switch {
			case !ok && last:
				child = &node{leaf: true, data: data}
			case !ok:
				child = &node{children: map[string]*node{}}
			case child.leaf || last:
				return nil, retry.Permanent(fmt.Errorf("path %q is both a file and a directory in the changes", p))
			}
			n.children[part] = child
			n = child
		}
	}
	return root, nil
}

// applyChanges writes the blobs of changes and rebuilds only the trees on
// their paths, on top of root (nil for an empty tree). It returns the new
// root tree and the sorted paths whose content actually changed; writing a
// file's current content or deleting an absent file changes nothing.
func applyChanges(st storer.EncodedObjectStorer, root *object.Tree, changes map[string][]byte) (plumbing.Hash, []string, error) {
	n, err := changeTree(changes)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	var changed []string
	h, _, err := writeTree(st, root, n, "", &changed)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	slices.Sort(changed)
	return h, changed, nil
}

// writeTree returns the hash of old with n's changes applied and its number
// of entries (0 means the directory disappears). It edits a copy of old's
// entries in place, which are in git's order already, and sorts only when
// it added a name: a promotion touches one entry of a directory that may
// hold 10,000.
func writeTree(st storer.EncodedObjectStorer, old *object.Tree, n *node, dir string, changed *[]string) (plumbing.Hash, int, error) {
	var entries []object.TreeEntry
	if old != nil {
		entries = slices.Clone(old.Entries)
	}
	// Lookups search the entries old had, which stay in order: additions
	// go after them and removals are applied at the end.
	have := len(entries)
	var removed []int
	dirty, added := false, false
	for name, child := range n.children {
		p := path.Join(dir, name)
		i := findEntry(entries[:have], name)
		exists := i >= 0
		var cur object.TreeEntry
		if exists {
			cur = entries[i]
		}
		set := func(e object.TreeEntry) {
			dirty = true
			if exists {
				entries[i] = e
				return
			}
			entries = append(entries, e)
			added = true
		}
		remove := func() {
			dirty = true
			removed = append(removed, i)
		}
		if child.leaf {
			if exists && cur.Mode == filemode.Dir {
				return plumbing.ZeroHash, 0, retry.Permanent(fmt.Errorf("writing %s: it is a directory", p))
			}
			if child.data == nil {
				if exists {
					remove()
					*changed = append(*changed, p)
				}
				continue
			}
			mode := filemode.Regular
			if exists && cur.Mode == filemode.Executable {
				mode = filemode.Executable
			}
			h := plumbing.ComputeHash(plumbing.BlobObject, child.data)
			if exists && cur.Hash == h && cur.Mode == mode {
				continue
			}
			if _, err := writeBlob(st, child.data); err != nil {
				return plumbing.ZeroHash, 0, fmt.Errorf("storing %s: %w", p, err)
			}
			set(object.TreeEntry{Name: name, Mode: mode, Hash: h})
			*changed = append(*changed, p)
			continue
		}
		var sub *object.Tree
		if exists {
			if cur.Mode != filemode.Dir {
				return plumbing.ZeroHash, 0, retry.Permanent(fmt.Errorf("writing under %s: it is a file", p))
			}
			t, err := getTree(st, cur.Hash)
			if err != nil {
				return plumbing.ZeroHash, 0, fmt.Errorf("reading tree %s: %w", p, err)
			}
			sub = t
		}
		h, size, err := writeTree(st, sub, child, p, changed)
		if err != nil {
			return plumbing.ZeroHash, 0, err
		}
		switch {
		case size == 0 && exists:
			remove()
		case size == 0, exists && h == cur.Hash:
		default:
			set(object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
		}
	}
	if old != nil && !dirty {
		return old.Hash, len(old.Entries), nil
	}
	if len(removed) > 0 {
		gone := make([]bool, len(entries))
		for _, i := range removed {
			gone[i] = true
		}
		kept := entries[:0]
		for i, e := range entries {
			if !gone[i] {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	// A tree git did not write may be out of order; sorting it costs as
	// much as checking, so check first.
	if added || !slices.IsSortedFunc(entries, byGitOrder) {
		slices.SortFunc(entries, byGitOrder)
	}
	data, err := encodeTree(entries)
	if err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("encoding tree %s: %w", orRoot(dir), err)
	}
	h, err := writeObject(st, plumbing.TreeObject, data)
	if err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("storing tree %s: %w", orRoot(dir), err)
	}
	return h, len(entries), nil
}

// byGitOrder orders tree entries as git does: a directory's name compares
// as if it ended with a slash. It builds no key: sorting a 10,000-entry
// directory by concatenated keys spent most of a promotion's tree writing
// on allocating them.
func byGitOrder(a, b object.TreeEntry) int {
	n := min(len(a.Name), len(b.Name))
	if c := strings.Compare(a.Name[:n], b.Name[:n]); c != 0 {
		return c
	}
	return cmp.Compare(gitKeyByte(a, n), gitKeyByte(b, n))
}

// gitKeyByte is the byte at i of e's sort key, -1 past its end.
func gitKeyByte(e object.TreeEntry, i int) int {
	switch {
	case i < len(e.Name):
		return int(e.Name[i])
	case i == len(e.Name) && e.Mode == filemode.Dir:
		return '/'
	}
	return -1
}

func orRoot(dir string) string {
	if dir == "" {
		return "/"
	}
	return dir
}

// encodeTree is git's encoding of sorted entries, as object.Tree.Encode
// writes it, in one buffer: Encode formats each entry with fmt and grows
// the object a write at a time, about 5 ms for the apps/ directory of a
// 10,000-app repository, on every promotion.
func encodeTree(entries []object.TreeEntry) ([]byte, error) {
	n := 0
	for _, e := range entries {
		n += len(e.Name) + len(e.Hash) + 8
	}
	b := make([]byte, 0, n)
	for _, e := range entries {
		if strings.IndexByte(e.Name, 0) >= 0 {
			return nil, fmt.Errorf("malformed file name %q", e.Name)
		}
		b = strconv.AppendUint(b, uint64(e.Mode), 8)
		b = append(b, ' ')
		b = append(b, e.Name...)
		b = append(b, 0)
		b = append(b, e.Hash[:]...)
	}
	return b, nil
}

func writeBlob(st storer.EncodedObjectStorer, data []byte) (plumbing.Hash, error) {
	return writeObject(st, plumbing.BlobObject, data)
}

// writeObject stores data as an object of type t.
func writeObject(st storer.EncodedObjectStorer, t plumbing.ObjectType, data []byte) (plumbing.Hash, error) {
	obj := st.NewEncodedObject()
	obj.SetType(t)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return st.SetEncodedObject(obj)
}

// writeCommit stores a commit of tree with the given parents, authored and
// committed by sig. The message gets the trailing newline git gives it.
func writeCommit(st storer.EncodedObjectStorer, tree plumbing.Hash, parents []plumbing.Hash, sig object.Signature, message string) (plumbing.Hash, error) {
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	c := &object.Commit{Author: sig, Committer: sig, Message: message, TreeHash: tree, ParentHashes: parents}
	obj := st.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding commit: %w", err)
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing commit: %w", err)
	}
	return h, nil
}
