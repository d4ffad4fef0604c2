package gitops

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// errSymlink refuses to follow a symbolic link: its target could name any
// file, in or out of the tree.
var errSymlink = errors.New("symbolic link not followed")

// Snapshot is a read-only view of one commit's tree. It is an fs.FS (also
// fs.ReadFileFS, fs.ReadDirFS and fs.StatFS) with slash-separated paths and
// no leading slash. Blobs are read from the in-memory object store on demand;
// symbolic links and submodules are listed but cannot be opened. A Snapshot
// is meant for one Edit at a time and is not safe for concurrent use.
type Snapshot struct {
	st     storer.EncodedObjectStorer
	commit *object.Commit
	root   *object.Tree
}

var (
	_ fs.ReadFileFS = (*Snapshot)(nil)
	_ fs.ReadDirFS  = (*Snapshot)(nil)
	_ fs.StatFS     = (*Snapshot)(nil)
)

// newSnapshot returns the snapshot of c's tree, whose objects st holds.
func newSnapshot(st storer.EncodedObjectStorer, c *object.Commit) (*Snapshot, error) {
	root, err := getTree(st, c.TreeHash)
	if err != nil {
		return nil, err
	}
	return &Snapshot{st: st, commit: c, root: root}, nil
}

// Commit returns the SHA of the commit the snapshot shows.
func (s *Snapshot) Commit() string { return s.commit.Hash.String() }

// Open opens the named file or directory.
func (s *Snapshot) Open(name string) (fs.File, error) {
	info, tree, err := s.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if tree != nil {
		return &dir{info: info, entries: s.entries(tree)}, nil
	}
	data, err := s.read("open", name, info)
	if err != nil {
		return nil, err
	}
	return &file{info: info, Reader: bytes.NewReader(data)}, nil
}

// ReadFile returns the content of the named file.
func (s *Snapshot) ReadFile(name string) ([]byte, error) {
	info, tree, err := s.lookup("read", name)
	if err != nil {
		return nil, err
	}
	if tree != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	return s.read("read", name, info)
}

// ReadDir returns the named directory's entries sorted by name.
func (s *Snapshot) ReadDir(name string) ([]fs.DirEntry, error) {
	_, tree, err := s.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if tree == nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return s.entries(tree), nil
}

// Stat describes the named file or directory.
func (s *Snapshot) Stat(name string) (fs.FileInfo, error) {
	info, _, err := s.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return info, nil
}

// lookup finds name; tree is non-nil for a directory.
func (s *Snapshot) lookup(op, name string) (*entryInfo, *object.Tree, error) {
	if !fs.ValidPath(name) {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return &entryInfo{name: ".", mode: filemode.Dir, mtime: s.mtime()}, s.root, nil
	}
	tree := s.root
	parts := strings.Split(name, "/")
	for k, part := range parts {
		i := findEntry(tree.Entries, part)
		if i < 0 {
			return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		e := &tree.Entries[i]
		last := k == len(parts)-1
		if e.Mode != filemode.Dir {
			if !last {
				return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
			}
			return s.info(e), nil, nil
		}
		sub, err := getTree(s.st, e.Hash)
		if err != nil {
			return nil, nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		if last {
			return s.info(e), sub, nil
		}
		tree = sub
	}
	panic("unreachable: a valid path has a last element")
}

func (s *Snapshot) read(op, name string, info *entryInfo) ([]byte, error) {
	switch info.mode {
	case filemode.Regular, filemode.Executable, filemode.Deprecated:
	case filemode.Symlink:
		return nil, &fs.PathError{Op: op, Path: name, Err: errSymlink}
	default:
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	b, err := object.GetBlob(s.st, info.hash)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if err := checkSize(b.Size); err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	r, err := b.Reader()
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return data, nil
}

func (s *Snapshot) entries(tree *object.Tree) []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(tree.Entries))
	for i := range tree.Entries {
		out = append(out, s.info(&tree.Entries[i]))
	}
	// Git orders a directory "a" as "a/", after "a.b"; fs.ReadDir wants
	// plain name order.
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

func (s *Snapshot) info(e *object.TreeEntry) *entryInfo {
	i := &entryInfo{name: e.Name, mode: e.Mode, hash: e.Hash, mtime: s.mtime(), size: -1}
	if e.Mode != filemode.Dir {
		i.blobSize = func() int64 {
			if n, err := s.st.EncodedObjectSize(e.Hash); err == nil {
				return n
			}
			return 0
		}
	}
	return i
}

// mtime is the committer's time, so the snapshot is deterministic.
func (s *Snapshot) mtime() time.Time { return s.commit.Committer.When }

// entryInfo is both the fs.FileInfo and the fs.DirEntry of a tree entry.
type entryInfo struct {
	name     string
	mode     filemode.FileMode
	hash     plumbing.Hash
	mtime    time.Time
	size     int64
	blobSize func() int64
}

func (i *entryInfo) Name() string { return i.name }

// Size reads the blob's header on first use: listing a directory should not
// load every blob in it.
func (i *entryInfo) Size() int64 {
	if i.size < 0 {
		i.size = 0
		if i.blobSize != nil {
			i.size = i.blobSize()
		}
	}
	return i.size
}

func (i *entryInfo) Mode() fs.FileMode {
	switch i.mode {
	case filemode.Dir:
		return fs.ModeDir | 0o555
	case filemode.Executable:
		return 0o555
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	case filemode.Submodule:
		return fs.ModeIrregular
	default:
		return 0o444
	}
}

func (i *entryInfo) ModTime() time.Time         { return i.mtime }
func (i *entryInfo) IsDir() bool                { return i.mode == filemode.Dir }
func (i *entryInfo) Sys() any                   { return nil }
func (i *entryInfo) Type() fs.FileMode          { return i.Mode().Type() }
func (i *entryInfo) Info() (fs.FileInfo, error) { return i, nil }
func (i *entryInfo) String() string             { return fs.FormatDirEntry(i) }

// file is an open blob.
type file struct {
	info *entryInfo
	*bytes.Reader
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Close() error               { return nil }

// dir is an open tree.
type dir struct {
	info    *entryInfo
	entries []fs.DirEntry
	offset  int
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dir) Close() error               { return nil }

func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

// ReadDir follows fs.ReadDirFile: n > 0 returns at most n entries and io.EOF
// at the end; n <= 0 returns all remaining entries.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.offset:]
	if n <= 0 {
		d.offset = len(d.entries)
		return slices.Clone(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.offset += n
	return slices.Clone(rest[:n]), nil
}
