package sqlitedb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DirMode and FileMode are the permissions of a data directory and of the
// files in it: the database holds delivery records, pull request state and
// settings, and the registry's blobs are the images; only the owner reads
// them.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// Restrict creates dir with DirMode when it is missing, and otherwise
// brings dir, the database's files and each of entries (paths relative to
// dir, walked recursively) down to DirMode (directories) and FileMode
// (files), without following symlinks. Other files are left alone: a data
// directory may have been pointed at a directory that holds more. It
// returns the paths whose modes it had to tighten, in walk order, so the
// caller can warn: someone else may already have read them.
func Restrict(dir string, entries ...string) ([]string, error) {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, DirMode); err != nil {
			return nil, fmt.Errorf("creating data dir: %w", err)
		}
		// MkdirAll obeys the umask, which can only remove bits.
		return nil, nil
	}
	// A data directory may itself be a symlink the user chose; what is
	// under it is walked without following links.
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("restricting data dir %s: %w", dir, err)
	}
	var tightened []string
	visit := func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		changed, err := tighten(path, d)
		if changed {
			tightened = append(tightened, path)
		}
		return err
	}
	info, err := os.Stat(root)
	if err == nil {
		err = visit(root, fs.FileInfoToDirEntry(info), nil)
	}
	names := append([]string{FileName, FileName + "-shm", FileName + "-wal", MarkerName, LostFound}, entries...)
	for _, name := range names {
		if err != nil {
			break
		}
		err = filepath.WalkDir(filepath.Join(root, name), visit)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	}
	if err != nil {
		return tightened, fmt.Errorf("restricting data dir %s: %w", dir, err)
	}
	return tightened, nil
}

// tighten removes group and other permissions from a directory or regular
// file; symlinks and special files are left alone.
func tighten(path string, d fs.DirEntry) (bool, error) {
	want := FileMode
	switch {
	case d.IsDir():
		want = DirMode
	case !d.Type().IsRegular():
		return false, nil
	}
	info, err := d.Info()
	if err != nil {
		return false, err
	}
	if info.Mode().Perm()&^want == 0 {
		return false, nil
	}
	return true, os.Chmod(path, info.Mode().Perm()&want)
}

// private prepares dataDir and the database's files before SQLite opens
// them: SQLite creates a database with mode 0644 (less the umask) and gives
// its -wal and -shm files the database's mode, so the database is created
// here with FileMode first, and modes left loose by an older version are
// tightened.
func private(dataDir, db string) error {
	if err := os.MkdirAll(dataDir, DirMode); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	for i, p := range []string{dataDir, db, db + "-wal", db + "-shm"} {
		stat := os.Lstat
		if i == 0 {
			stat = os.Stat // the directory may be a symlink the user chose
		}
		info, err := stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("restricting data dir: %w", err)
		}
		if _, err := tighten(p, fs.FileInfoToDirEntry(info)); err != nil {
			return fmt.Errorf("restricting data dir: %w", err)
		}
	}
	f, err := os.OpenFile(db, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return fmt.Errorf("creating %s: %w", db, err)
	}
	return f.Close()
}
