package imagebuild

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// maxSymlinkHops bounds symlink resolution of intermediate path components.
const maxSymlinkHops = 40

// entry is one planned tar entry of a layer, or one file of a stage.
type entry struct {
	name     string // path in the image, clean, without a leading slash
	typ      byte   // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	mode     int64  // permission bits only
	uid, gid int
	link     string // symlink target
	src      string // path of a regular file's content in the build context
	size     int64
	ignored  bool // excluded by .dockerignore
}

// source is where COPY reads from: the build context or an earlier stage.
// Paths are slash-separated, clean and relative to the source's root ("" is
// the root).
type source interface {
	// stat returns the entry at p, not following a final symlink.
	stat(p string) (entry, error)
	// list returns the sorted names in directory p.
	list(p string) ([]string, error)
	// hasExceptions reports whether ignored directories must still be walked
	// because an exception (!pattern) may re-include something inside.
	hasExceptions() bool
}

// buildContext is a directory opened with os.Root, so that no path or
// symlink can leave it, filtered by its .dockerignore.
type buildContext struct {
	root   *os.Root
	ignore *patternmatcher.PatternMatcher
}

// openContext opens sub (slash-separated, relative) inside dir as the build
// context. Every component of sub is resolved through dir's os.Root, so a
// committed symlink such as ctx -> ../.. cannot make a directory outside
// the checkout the context.
func openContext(dir, sub string) (*buildContext, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening build context: %w", err)
	}
	if sub = path.Clean("/" + sub)[1:]; sub != "" {
		inner, err := root.OpenRoot(filepath.FromSlash(sub))
		root.Close()
		if err != nil {
			return nil, &ContextError{Path: sub, Reason: fmt.Sprintf("cannot be opened inside the checkout (a missing directory, or a symlink leaving it): %v", err)}
		}
		root = inner
	}
	c := &buildContext{root: root}
	f, err := root.Open(".dockerignore")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c, nil
	case err != nil:
		root.Close()
		return nil, fmt.Errorf("opening .dockerignore: %w", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		root.Close()
		return nil, &RecipeError{File: ".dockerignore", Msg: err.Error(), kind: ErrInvalidContext, err: err}
	}
	if c.ignore, err = patternmatcher.New(patterns); err != nil {
		root.Close()
		return nil, &RecipeError{File: ".dockerignore", Msg: err.Error(), kind: ErrInvalidContext, err: err}
	}
	return c, nil
}

func (c *buildContext) Close() error { return c.root.Close() }

func (c *buildContext) hasExceptions() bool { return c.ignore != nil && c.ignore.Exclusions() }

func (c *buildContext) ignored(p string) bool {
	if c.ignore == nil || p == "" {
		return false
	}
	m, _ := c.ignore.MatchesOrParentMatches(p)
	return m
}

// rootPath turns a context-relative path into one os.Root accepts.
func rootPath(p string) string {
	if p == "" {
		return "."
	}
	return p
}

// resolve follows symlinks in the intermediate components of p, refusing any
// that leave the context, and returns p with those components replaced by
// their targets. The final component is not followed.
func (c *buildContext) resolve(p string) (string, error) {
	rest := strings.Split(p, "/")
	cur := ""
	for hops := 0; len(rest) > 0; {
		next := path.Join(cur, rest[0])
		if len(rest) == 1 {
			return next, nil
		}
		fi, err := c.root.Lstat(next)
		if err != nil {
			return "", c.statError(p, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur, rest = next, rest[1:]
			continue
		}
		if hops++; hops > maxSymlinkHops {
			return "", &ContextError{Path: p, Reason: "too many levels of symlinks"}
		}
		target, err := c.root.Readlink(next)
		if err != nil {
			return "", c.statError(p, err)
		}
		resolved, ok := insideContext(next, target)
		if !ok {
			return "", &ContextError{Path: p, Reason: fmt.Sprintf("symlink %q to %q leaves the build context", next, target)}
		}
		// Resolve the target again from the root: it may hold symlinks too.
		rest = append(strings.Split(resolved, "/"), rest[1:]...)
		if resolved == "" {
			rest = rest[1:]
		}
		cur = ""
	}
	return cur, nil
}

// insideContext resolves a symlink target lexically from the link's
// directory and reports whether it stays inside the context. Absolute
// targets would point at the host while building: they are outside.
func insideContext(link, target string) (string, bool) {
	if target == "" || path.IsAbs(target) {
		return "", false
	}
	resolved := path.Join(path.Dir(link), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return "", false
	}
	if resolved == "." {
		resolved = ""
	}
	return resolved, true
}

func (c *buildContext) statError(p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return &ContextError{Path: p, Reason: "does not exist", notFound: true}
	}
	if strings.Contains(err.Error(), "escapes") {
		return &ContextError{Path: p, Reason: "leaves the build context"}
	}
	return &ContextError{Path: p, Reason: err.Error()}
}

func (c *buildContext) stat(p string) (entry, error) {
	resolved, err := c.resolve(p)
	if err != nil {
		return entry{}, err
	}
	fi, err := c.root.Lstat(rootPath(resolved))
	if err != nil {
		return entry{}, c.statError(p, err)
	}
	e := entry{name: p, src: resolved, ignored: c.ignored(resolved) || c.ignored(p)}
	switch m := fi.Mode(); {
	case m.IsRegular():
		e.typ, e.mode, e.size = tar.TypeReg, 0o644, fi.Size()
		if m&0o111 != 0 {
			// Only the execute bit survives: git tracks nothing else, and
			// the rest depends on the host's umask.
			e.mode = 0o755
		}
	case m.IsDir():
		e.typ, e.mode = tar.TypeDir, 0o755
	case m&fs.ModeSymlink != 0:
		target, err := c.root.Readlink(resolved)
		if err != nil {
			return entry{}, c.statError(p, err)
		}
		if _, ok := insideContext(resolved, target); !ok {
			return entry{}, &ContextError{Path: p, Reason: fmt.Sprintf("symlink to %q leaves the build context", target)}
		}
		e.typ, e.mode, e.link = tar.TypeSymlink, 0o777, target
	case m&fs.ModeNamedPipe != 0:
		return entry{}, &ContextError{Path: p, Reason: "is a named pipe (fifo); only regular files, directories and symlinks can be copied"}
	case m&fs.ModeSocket != 0:
		return entry{}, &ContextError{Path: p, Reason: "is a socket; only regular files, directories and symlinks can be copied"}
	case m&fs.ModeDevice != 0:
		return entry{}, &ContextError{Path: p, Reason: "is a device; only regular files, directories and symlinks can be copied"}
	default:
		return entry{}, &ContextError{Path: p, Reason: fmt.Sprintf("has unsupported type %v", m.Type())}
	}
	return e, nil
}

func (c *buildContext) list(p string) ([]string, error) {
	resolved, err := c.resolve(p)
	if err != nil {
		return nil, err
	}
	f, err := c.root.Open(rootPath(resolved))
	if err != nil {
		return nil, c.statError(p, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing %q: %w", p, err)
	}
	// Directory order differs between hosts: sort.
	slices.Sort(names)
	return names, nil
}

// open opens a regular file of the context for reading, checking that it is
// still the regular file of the size that was planned.
func (c *buildContext) open(e entry) (io.ReadCloser, error) {
	f, err := c.root.Open(rootPath(e.src))
	if err != nil {
		return nil, c.statError(e.src, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading %q: %w", e.src, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != e.size {
		f.Close()
		return nil, &ContextError{Path: e.src, Reason: "changed during the build"}
	}
	return f, nil
}

// isArchive reports whether a regular file looks like an archive ADD would
// unpack: tar, or gzip, bzip2 or xz compressed data.
func (c *buildContext) isArchive(e entry) (bool, error) {
	f, err := c.open(e)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("reading %q: %w", e.src, err)
	}
	head = head[:n]
	for _, magic := range [][]byte{{0x1f, 0x8b}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0}} {
		if bytes.HasPrefix(head, magic) {
			return true, nil
		}
	}
	return n >= 262 && bytes.Equal(head[257:262], []byte("ustar")), nil
}
