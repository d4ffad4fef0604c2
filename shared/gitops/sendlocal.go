package gitops

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	formatcfg "github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// unpackLimit is git's receive.unpackLimit default: receive-pack stores a
// push of fewer objects loose and a larger one as a pack. The local path
// does the same, so the repository's housekeeping (gc --auto counts loose
// objects and packs) sees what a push would have left.
const unpackLimit = 100

// receiveHooks run inside receive-pack only; a repository with any of them
// is pushed to through receive-pack so that they run.
var receiveHooks = []string{"pre-receive", "update", "post-receive", "post-update", "proc-receive", "push-to-checkout"}

// localDir returns the directory a file:// URL names.
func localDir(u string) (string, bool) {
	if !strings.HasPrefix(u, "file://") {
		return "", false
	}
	p, err := url.PathUnescape(strings.TrimPrefix(u, "file://"))
	if err != nil {
		return "", false
	}
	return filepath.FromSlash(p), true
}

// directGitDir returns the git directory of the repository at dir when a
// push of branch to it may skip receive-pack: receive-pack would only store
// the objects and move the ref. That is not so, and "" is returned, when
// the repository has receive hooks, any receive.* setting but
// denyCurrentBranch, any transfer.* setting,
// a hooks path or includes (whose settings are not read here), is a linked
// work tree, or has branch checked out. Only plain files are read: asking
// git would cost the processes this path saves.
func directGitDir(dir, branch string) string {
	gitDir, bare := dir, true
	if fi, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		if !fi.IsDir() {
			return "" // a linked work tree or a submodule
		}
		gitDir, bare = filepath.Join(dir, ".git"), false
	}
	if fi, err := os.Stat(filepath.Join(gitDir, "objects")); err != nil || !fi.IsDir() {
		return ""
	}
	if _, err := os.Stat(filepath.Join(gitDir, "HEAD")); err != nil {
		return ""
	}
	// The branch may be checked out here or in a linked work tree.
	heads, _ := filepath.Glob(filepath.Join(gitDir, "worktrees", "*", "HEAD"))
	if !bare {
		heads = append(heads, filepath.Join(gitDir, "HEAD"))
	}
	for _, h := range heads {
		head, err := os.ReadFile(h)
		if err != nil || strings.TrimSpace(string(head)) == "ref: "+plumbing.NewBranchReferenceName(branch).String() {
			return ""
		}
	}
	for _, h := range receiveHooks {
		if _, err := os.Lstat(filepath.Join(gitDir, "hooks", h)); err == nil {
			return ""
		}
	}
	if !plainReceiveConfig(filepath.Join(gitDir, "config")) {
		return ""
	}
	return gitDir
}

// setsCompression reports whether the repository's config sets how loose
// objects are compressed (or cannot be read, which leaves it to git).
func setsCompression(path string) bool {
	cfg, err := readConfig(path)
	if err != nil {
		return true
	}
	core := cfg.Section("core")
	return core.Options.Has("compression") || core.Options.Has("looseCompression")
}

func readConfig(path string) (*formatcfg.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg := formatcfg.New()
	if err := formatcfg.NewDecoder(f).Decode(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// plainReceiveConfig reports whether the repository's config leaves
// receive-pack at its defaults.
func plainReceiveConfig(path string) bool {
	cfg, err := readConfig(path)
	if err != nil {
		return false
	}
	for _, s := range cfg.Sections {
		switch strings.ToLower(s.Name) {
		case "receive":
			// denyCurrentBranch rules the checked-out branch only, which
			// never comes this way.
			for _, o := range s.Options {
				if !strings.EqualFold(o.Key, "denyCurrentBranch") {
					return false
				}
			}
			if len(s.Subsections) > 0 {
				return false
			}
		case "transfer", "include", "includeif":
			return false
		case "core":
			if s.Options.Has("hooksPath") || s.Options.Has("hookspath") {
				return false
			}
		}
	}
	return true
}

// sendLocal does what receive-pack would do for this push, without its
// connectivity check, which walks every tree of the repository and so grows
// with it (about 30 ms for 10,000 apps). The check is kept in the form that
// costs only what was sent: git stores the objects with --strict, which
// refuses any object that links to one the repository lacks. Every object
// already there is connected, so the new ones are too. The ref moves with
// git's own lock and compare-and-swap, as receive-pack moves it, so a
// concurrent writer makes the push fail rather than be overwritten.
func sendLocal(ctx context.Context, gitDir string, added *overlay, ref plumbing.ReferenceName, old, commit plumbing.Hash) error {
	if err := storeObjects(ctx, gitDir, added); err != nil {
		return err
	}
	oldArg := old.String() // all zeros: the ref must not exist yet
	if out, err := gitAt(ctx, gitDir, nil, nil, "update-ref", "-m", "conveyor: push", ref.String(), commit.String(), oldArg); err != nil {
		return fmt.Errorf("moving %s: %w: %s", ref.Short(), err, out)
	}
	// receive-pack's housekeeping, so loose objects and packs do not pile
	// up; it returns at once unless there is work, which it detaches.
	if out, err := gitAt(ctx, gitDir, nil, nil, "gc", "--auto", "--quiet"); err != nil {
		return fmt.Errorf("git gc --auto: %w: %s", err, out)
	}
	return nil
}

// storeObjects writes the objects added holds into the repository, loose
// below unpackLimit and as a pack above it, refusing broken links. As in
// receive-pack, git writes them into a quarantine directory first and they
// join the repository only once all were accepted: a refused push leaves
// nothing behind.
func storeObjects(ctx context.Context, gitDir string, added *overlay) (err error) {
	objects := filepath.Join(gitDir, "objects")
	// git gc removes tmp_objdir-* directories a crash left behind.
	q, err := os.MkdirTemp(objects, "tmp_objdir-conveyor-")
	if err != nil {
		return fmt.Errorf("quarantine for the pushed objects: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(q); rmErr != nil && err == nil {
			err = fmt.Errorf("removing the quarantine: %w", rmErr)
		}
	}()
	if err := os.Mkdir(filepath.Join(q, "pack"), 0o755); err != nil {
		return fmt.Errorf("quarantine for the pushed objects: %w", err)
	}
	// Below the limit git inflates the pack and compresses each object
	// again to store it loose: at zlib's default level that was 7 ms of a
	// 10,000-app promotion's 19 ms in git, for its 376 KB apps/ tree. The
	// pack goes uncompressed, and the loose objects too unless the
	// repository sets a level: git gc compresses them when it packs them.
	level := zlib.NoCompression
	args := []string{"-c", "core.looseCompression=0", "unpack-objects", "-q", "--strict"}
	if setsCompression(filepath.Join(gitDir, "config")) {
		args = args[2:]
	}
	if len(added.order) >= unpackLimit {
		// A pack is stored as it comes.
		level, args = zlib.BestSpeed, []string{"index-pack", "--stdin", "--strict"}
	}
	rd, wr := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- wr.CloseWithError(writePack(wr, added.added, added.order, level)) }()
	quarantine := []string{"GIT_OBJECT_DIRECTORY=" + q, "GIT_ALTERNATE_OBJECT_DIRECTORIES=" + objects}
	out, err := gitAt(ctx, gitDir, rd, quarantine, args...)
	_ = rd.CloseWithError(errors.New("git exited"))
	if encErr := <-done; encErr != nil && err == nil {
		return fmt.Errorf("encoding %d objects: %w", len(added.order), encErr)
	}
	if err != nil {
		return fmt.Errorf("storing %d objects (git %s --strict refuses objects that link to one the repository lacks): %w: %s", len(added.order), args[len(args)-3], err, out)
	}
	return migrate(q, objects)
}

// migrate moves the quarantined objects into the repository: loose objects
// file by file, and in a pack the index last, so a reader never finds an
// index without its pack.
func migrate(q, objects string) error {
	entries, err := os.ReadDir(q)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "pack" {
			continue
		}
		if err := moveAll(filepath.Join(q, e.Name()), filepath.Join(objects, e.Name()), nil); err != nil {
			return err
		}
	}
	return moveAll(filepath.Join(q, "pack"), filepath.Join(objects, "pack"), func(name string) int {
		switch filepath.Ext(name) {
		case ".idx":
			return 2
		case ".pack":
			return 0
		}
		return 1
	})
}

// moveAll renames every file of src into dst, in the order rank gives.
// A file dst already holds is the same object and stays.
func moveAll(src, dst string, rank func(string) int) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if rank != nil {
		slices.SortStableFunc(entries, func(a, b os.DirEntry) int { return rank(a.Name()) - rank(b.Name()) })
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		to := filepath.Join(dst, e.Name())
		if _, err := os.Lstat(to); err == nil {
			continue
		}
		if err := os.Rename(filepath.Join(src, e.Name()), to); err != nil {
			return fmt.Errorf("moving pushed objects into the repository: %w", err)
		}
	}
	return nil
}

// writePack writes the objects order names as a version 2 pack without
// deltas, compressed at zlib level (at the default level compressing a
// 10,000-entry tree took 9 ms of each promotion).
func writePack(w io.Writer, st storer.EncodedObjectStorer, order []plumbing.Hash, level int) error {
	sum := sha1.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 64<<10)
	var hdr [12]byte
	copy(hdr[:4], "PACK")
	binary.BigEndian.PutUint32(hdr[4:8], 2)
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(order)))
	bw.Write(hdr[:])
	zw, err := zlib.NewWriterLevel(bw, level)
	if err != nil {
		return err
	}
	for _, h := range order {
		obj, err := st.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return fmt.Errorf("reading object %s to send: %w", h, err)
		}
		bw.Write(objectHeader(obj.Type(), obj.Size()))
		r, err := obj.Reader()
		if err != nil {
			return err
		}
		zw.Reset(bw)
		_, err = io.Copy(zw, r)
		r.Close()
		if err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err = w.Write(sum.Sum(nil))
	return err
}

// objectHeader is a pack entry's type and size: the type and the size's
// low four bits, then seven bits a byte, high bit set while more follow.
func objectHeader(t plumbing.ObjectType, size int64) []byte {
	b := []byte{byte(t)<<4 | byte(size&0x0f)}
	for size >>= 4; size > 0; size >>= 7 {
		b[len(b)-1] |= 0x80
		b = append(b, byte(size&0x7f))
	}
	return b
}

// gitAt runs git on the git directory gitDir, with its output for errors.
// The environment's GIT_DIR and friends are dropped: they would point git
// at another repository.
func gitAt(ctx context.Context, gitDir string, stdin io.Reader, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--git-dir=" + gitDir}, args...)...)
	cmd.Env = append(cleanGitEnv(os.Environ()), env...)
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func cleanGitEnv(env []string) []string {
	kept := env[:0:0]
	for _, kv := range env {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH":
			continue
		}
		kept = append(kept, kv)
	}
	return kept
}
