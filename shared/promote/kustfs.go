package promote

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// errReadOnly refuses every write kustomize attempts: a render check reads
// the repository, it never changes it.
var errReadOnly = errors.New("the render check's file system is read-only")

// kustFS is kustomize's file system over a snapshot of the GitOps
// repository (with the edit overlaid), mounted at "/": kustomize reads
// exactly the files it would read in a checkout, generator files and
// patches in subdirectories included, and nothing is copied.
//
// With clones set, paths under kustomize's own clone directories
// (os.TempDir()/kustomize-*, where it runs git clone for a remote base)
// are read from disk, and kustomize may remove them when done. Nothing
// else on disk is visible.
type kustFS struct {
	snap   fs.FS
	clones string // the prefix of kustomize's clone directories, "" when remote bases are not fetched
}

var _ filesys.FileSystem = (*kustFS)(nil)

// newKustFS returns the file system of a render of snap.
func newKustFS(snap fs.FS, fetchRemote bool) *kustFS {
	k := &kustFS{snap: snap}
	if fetchRemote {
		tmp, err := filepath.EvalSymlinks(os.TempDir())
		if err != nil {
			tmp = os.TempDir()
		}
		k.clones = filepath.Join(tmp, "kustomize-")
	}
	return k
}

// rel turns kustomize's absolute path into a snapshot path, or reports
// that it names a clone on disk.
func (k *kustFS) rel(p string) (name string, clone bool) {
	if k.clones != "" && strings.HasPrefix(p, k.clones) {
		return p, true
	}
	p = path.Clean("/" + filepath.ToSlash(p))
	if p == "/" {
		return ".", false
	}
	return p[1:], false
}

var disk = filesys.MakeFsOnDisk()

func (k *kustFS) Create(string) (filesys.File, error) { return nil, errReadOnly }
func (k *kustFS) Mkdir(string) error                  { return errReadOnly }
func (k *kustFS) MkdirAll(string) error               { return errReadOnly }
func (k *kustFS) WriteFile(string, []byte) error      { return errReadOnly }

// RemoveAll lets kustomize clean up its own clones, and nothing else.
func (k *kustFS) RemoveAll(p string) error {
	if _, clone := k.rel(p); clone {
		return disk.RemoveAll(p)
	}
	return errReadOnly
}

func (k *kustFS) Open(p string) (filesys.File, error) {
	name, clone := k.rel(p)
	if clone {
		return disk.Open(p)
	}
	f, err := k.snap.Open(name)
	if err != nil {
		return nil, err
	}
	return readOnlyFile{f}, nil
}

func (k *kustFS) IsDir(p string) bool {
	name, clone := k.rel(p)
	if clone {
		return disk.IsDir(p)
	}
	fi, err := fs.Stat(k.snap, name)
	return err == nil && fi.IsDir()
}

func (k *kustFS) ReadDir(p string) ([]string, error) {
	name, clone := k.rel(p)
	if clone {
		return disk.ReadDir(p)
	}
	entries, err := fs.ReadDir(k.snap, name)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// CleanedAbs splits p into a directory that exists and a file name ("" when
// p is itself a directory), as kustomize's on-disk file system does.
func (k *kustFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	if _, clone := k.rel(p); clone {
		return disk.CleanedAbs(p)
	}
	abs := path.Clean("/" + filepath.ToSlash(p))
	if k.IsDir(abs) {
		return filesys.ConfirmedDir(abs), "", nil
	}
	dir := path.Dir(abs)
	if dir == abs {
		return "", "", fmt.Errorf("file '%s' cannot be a directory", abs)
	}
	if !k.IsDir(dir) {
		return "", "", fmt.Errorf("first part of '%s' not a directory", abs)
	}
	return filesys.ConfirmedDir(dir), path.Base(abs), nil
}

func (k *kustFS) Exists(p string) bool {
	name, clone := k.rel(p)
	if clone {
		return disk.Exists(p)
	}
	_, err := fs.Stat(k.snap, name)
	return err == nil
}

func (k *kustFS) Glob(pattern string) ([]string, error) {
	name, clone := k.rel(pattern)
	if clone {
		return disk.Glob(pattern)
	}
	matches, err := fs.Glob(k.snap, name)
	for i := range matches {
		matches[i] = "/" + matches[i]
	}
	return matches, err
}

func (k *kustFS) ReadFile(p string) ([]byte, error) {
	name, clone := k.rel(p)
	if clone {
		return disk.ReadFile(p)
	}
	return fs.ReadFile(k.snap, name)
}

func (k *kustFS) Walk(p string, walkFn filepath.WalkFunc) error {
	name, clone := k.rel(p)
	if clone {
		return disk.Walk(p, walkFn)
	}
	return fs.WalkDir(k.snap, name, func(f string, d fs.DirEntry, err error) error {
		abs := "/" + f
		if f == "." {
			abs = "/"
		}
		if err != nil {
			return walkFn(abs, nil, err)
		}
		info, err := d.Info()
		return walkFn(abs, info, err)
	})
}

// readOnlyFile is a snapshot file as kustomize's File: writes are refused.
type readOnlyFile struct{ fs.File }

func (readOnlyFile) Write([]byte) (int, error) { return 0, errReadOnly }
