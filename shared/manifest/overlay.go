package manifest

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"sort"
	"time"
)

// Overlay returns a read-only view of fsys with writes (new contents by
// slash path, as EditTree returns them) in place of its files: the tree as
// it will be once the edit is committed. Paths in writes that fsys lacks
// appear as new files, their directories as new directories. The view
// implements fs.ReadFileFS, fs.ReadDirFS and fs.StatFS.
func Overlay(fsys fs.FS, writes map[string][]byte) fs.FS {
	o := &overlayFS{base: fsys, writes: writes, dirs: map[string]bool{}}
	for p := range writes {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			o.dirs[d] = true
		}
	}
	return o
}

type overlayFS struct {
	base   fs.FS
	writes map[string][]byte
	dirs   map[string]bool // directories holding a written path
}

var (
	_ fs.ReadFileFS = (*overlayFS)(nil)
	_ fs.ReadDirFS  = (*overlayFS)(nil)
	_ fs.StatFS     = (*overlayFS)(nil)
)

func (o *overlayFS) Open(name string) (fs.File, error) {
	info, err := o.Stat(name)
	if err != nil {
		return nil, err
	}
	if data, ok := o.writes[name]; ok {
		return &memFile{info: info, Reader: bytes.NewReader(data)}, nil
	}
	if !info.IsDir() {
		return o.base.Open(name)
	}
	entries, err := o.ReadDir(name)
	if err != nil {
		return nil, err
	}
	return &memDir{info: info, entries: entries}, nil
}

func (o *overlayFS) ReadFile(name string) ([]byte, error) {
	if data, ok := o.writes[name]; ok {
		return bytes.Clone(data), nil
	}
	return fs.ReadFile(o.base, name)
}

func (o *overlayFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	info, err := fs.Stat(o.base, name)
	if data, ok := o.writes[name]; ok {
		mode := fs.FileMode(0o644)
		if err == nil && info.Mode().IsRegular() {
			mode = info.Mode()
		}
		return &memInfo{name: path.Base(name), size: int64(len(data)), mode: mode}, nil
	}
	if errors.Is(err, fs.ErrNotExist) && o.dirs[name] {
		return &memInfo{name: path.Base(name), mode: fs.ModeDir | 0o755}, nil
	}
	return info, err
}

// ReadDir lists the base directory's entries with the written files and
// their directories merged in, sorted by name.
func (o *overlayFS) ReadDir(name string) ([]fs.DirEntry, error) {
	base, err := fs.ReadDir(o.base, name)
	if err != nil && !(errors.Is(err, fs.ErrNotExist) && (o.dirs[name] || name == ".")) {
		return nil, err
	}
	byName := map[string]fs.DirEntry{}
	for _, e := range base {
		byName[e.Name()] = e
	}
	for p := range o.writes {
		if path.Dir(p) == name {
			info, _ := o.Stat(p)
			byName[path.Base(p)] = fs.FileInfoToDirEntry(info)
		}
	}
	for d := range o.dirs {
		if _, ok := byName[path.Base(d)]; !ok && path.Dir(d) == name {
			byName[path.Base(d)] = fs.FileInfoToDirEntry(&memInfo{name: path.Base(d), mode: fs.ModeDir | 0o755})
		}
	}
	entries := make([]fs.DirEntry, 0, len(byName))
	for _, e := range byName {
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return entries, nil
}

type memInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (i *memInfo) Name() string       { return i.name }
func (i *memInfo) Size() int64        { return i.size }
func (i *memInfo) Mode() fs.FileMode  { return i.mode }
func (i *memInfo) ModTime() time.Time { return time.Time{} }
func (i *memInfo) IsDir() bool        { return i.mode.IsDir() }
func (i *memInfo) Sys() any           { return nil }

type memFile struct {
	info fs.FileInfo
	*bytes.Reader
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Close() error               { return nil }

type memDir struct {
	info    fs.FileInfo
	entries []fs.DirEntry
	off     int
}

func (d *memDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *memDir) Close() error               { return nil }
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: errors.New("is a directory")}
}

func (d *memDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.off += n
	return rest[:n], nil
}
