package pipeline

import (
	"context"
	"fmt"
	"io/fs"
	"slices"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

func viewTip(ctx context.Context, location, branch string, auth transport.AuthMethod, fn func(fs.FS) error) (string, error) {
	return gitops.ViewTip(ctx, nil, location, branch, auth, func(s *gitops.Snapshot) error { return fn(s) })
}

// discovers reports whether the file last parsed finds apps in the tree.
func (c *Cache) discovers() bool {
	return c.base != nil && len(c.base.Discover) > 0
}

// treeRead is conveyor.yaml and the apps its rules find, read from one
// commit.
type treeRead struct {
	data     []byte
	blob     plumbing.Hash
	base     *config.Config
	baseErr  error
	found    []config.Found
	foundErr error
}

// loadTree reads the file and lists the apps its discover rules find at
// the same commit. The file is parsed again only when it changed or the
// apps found did; a failed listing is not kept.
func (c *Cache) loadTree(ctx context.Context, auth transport.AuthMethod) (*config.Config, error) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var r treeRead
	commit, err := c.view(rctx, c.location, c.branch, auth, func(tree fs.FS) error { return c.readTree(tree, &r) })
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", File, err)
	}
	if r.foundErr != nil {
		return nil, fmt.Errorf("discovering apps at %.12s: %w", commit, r.foundErr)
	}
	if c.expanded && r.blob == c.blob && slices.EqualFunc(r.found, c.found, sameFound) {
		c.commit, c.checked = commit, c.now()
		return c.cfg, c.err
	}
	cfg, err := r.base, r.baseErr
	if r.base != nil && len(r.base.Discover) > 0 {
		cfg, err = c.parse(File, r.data, config.WithFound(r.found))
	}
	if err != nil {
		// config.Errors stays reachable: handlers treat it as permanent.
		err = fmt.Errorf("parsing %s at %.12s: %w", File, commit, err)
	}
	c.commit, c.blob, c.base, c.found, c.cfg, c.err, c.checked = commit, r.blob, r.base, r.found, cfg, err, c.now()
	c.expanded = r.base != nil && len(r.base.Discover) > 0
	return cfg, err
}

// readTree reads what loadTree needs from one snapshot; the file is parsed
// here only when it changed, which is rare.
func (c *Cache) readTree(tree fs.FS, r *treeRead) error {
	data, err := fs.ReadFile(tree, File)
	if err != nil {
		return err
	}
	r.data, r.blob = data, plumbing.ComputeHash(plumbing.BlobObject, data)
	r.base = c.base
	if r.blob != c.blob || r.base == nil {
		r.base, r.baseErr = c.parse(File, data)
	}
	if r.base != nil && len(r.base.Discover) > 0 {
		r.found, r.foundErr = r.base.Discovered(tree)
	}
	return nil
}

func sameFound(a, b config.Found) bool {
	return a.Rule == b.Rule && a.App == b.App && slices.Equal(a.Envs, b.Envs)
}
