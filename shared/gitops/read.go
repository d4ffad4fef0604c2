package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
)

// ErrFileNotFound means the file is not in the branch's tip commit.
var ErrFileNotFound = errors.New("file not found in repository")

// IsRemote reports whether location is a URL rather than a local path.
func IsRemote(location string) bool {
	return strings.Contains(location, "://") && !strings.HasPrefix(location, "file://")
}

// ReadFile returns path as committed at the tip of branch in the repository
// at location (a local directory, a file:// URL or an https URL), and the
// commit it was read from. An empty branch means the repository's HEAD. A
// local repository is read in place; a remote one is fetched shallowly into
// memory.
func ReadFile(ctx context.Context, location, branch, path string, auth transport.AuthMethod) ([]byte, string, error) {
	commit, _, err := tipCommit(ctx, location, branch, auth)
	if err != nil {
		return nil, "", err
	}
	data, err := fileAt(commit, path)
	if err != nil {
		return nil, "", fmt.Errorf("reading %s at %s of %s: %w", path, short(commit.Hash.String()), logging.RedactURLs(location), err)
	}
	return data, commit.Hash.String(), nil
}

// tipCommit opens the repository at location and returns the tip of
// branch (HEAD when empty) and the store holding its objects.
func tipCommit(ctx context.Context, location, branch string, auth transport.AuthMethod) (*object.Commit, storer.EncodedObjectStorer, error) {
	repo, err := open(ctx, location, branch, auth)
	if err != nil {
		return nil, nil, err
	}
	var ref *plumbing.Reference
	if branch == "" {
		ref, err = repo.Head()
	} else {
		ref, err = repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("resolving %s in %s: %w", orHead(branch), logging.RedactURLs(location), err)
	}
	commit, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, nil, fmt.Errorf("reading commit %s of %s: %w", ref.Hash(), logging.RedactURLs(location), err)
	}
	return commit, repo.Storer, nil
}

func open(ctx context.Context, location, branch string, auth transport.AuthMethod) (*git.Repository, error) {
	if !IsRemote(location) {
		dir := strings.TrimPrefix(location, "file://")
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("opening repository %s: %w", location, err)
		}
		repo, err := openLocal(filepath.Clean(dir))
		if err != nil {
			return nil, fmt.Errorf("opening repository %s: %w", location, err)
		}
		return repo, nil
	}
	opts := &git.CloneOptions{URL: location, Auth: auth, Depth: 1, SingleBranch: true, NoCheckout: true, Tags: git.NoTags}
	if branch != "" {
		opts.ReferenceName = plumbing.NewBranchReferenceName(branch)
	}
	repo, err := git.CloneContext(ctx, memory.NewStorage(), nil, opts)
	if err != nil {
		// go-git's error repeats the URL: redact the whole message.
		return nil, logging.RedactError(fmt.Errorf("fetching %s of %s: %w", orHead(branch), location, err))
	}
	return repo, nil
}

// openLocal opens a repository on disk with storage that leaves objects
// over MaxFileSize unread until their content is asked for: by default
// go-git loads a whole object to learn its size. A linked worktree (.git
// is a file) is left to go-git's own resolution.
func openLocal(dir string) (*git.Repository, error) {
	dot := dir
	if fi, err := os.Stat(filepath.Join(dir, ".git")); err == nil && fi.IsDir() {
		dot = filepath.Join(dir, ".git")
	} else if err == nil {
		return git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	}
	st := filesystem.NewStorageWithOptions(osfs.New(dot), cache.NewObjectLRUDefault(),
		filesystem.Options{LargeObjectThreshold: MaxFileSize})
	return git.Open(st, nil)
}

func fileAt(c *object.Commit, path string) ([]byte, error) {
	f, err := c.File(strings.TrimPrefix(filepath.ToSlash(path), "/"))
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, ErrFileNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := checkSize(f.Size); err != nil {
		return nil, err
	}
	r, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, MaxFileSize))
}

func orHead(branch string) string {
	if branch == "" {
		return "HEAD"
	}
	return "branch " + branch
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
