package pipeline

import (
	"context"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// File is the pipeline file at the GitOps repository's root.
const File = "conveyor.yaml"

// defaultTimeout bounds each step of a read: asking for the branch's tip,
// then fetching the file.
const defaultTimeout = 30 * time.Second

// GitAuth returns git credentials for a repository URL (nil: none).
type GitAuth func(ctx context.Context, repoURL string) (transport.AuthMethod, error)

// Cache is the pipeline read from a branch of the GitOps repository,
// parsed at most once per version of the file: a commit that leaves
// conveyor.yaml as it was (every promotion merge) costs a read and a hash,
// not a parse of a 10,000-app file. A failed read is not kept; an invalid file
// is (its commit will not become valid). Safe for concurrent use.
type Cache struct {
	location, branch string
	auth             GitAuth
	timeout, maxAge  time.Duration
	now              func() time.Time
	// head and read are gitops.Head and gitops.ReadFile; tests count them.
	head func(ctx context.Context, location, branch string, auth transport.AuthMethod) (string, error)
	read func(ctx context.Context, location, branch, path string, auth transport.AuthMethod) ([]byte, string, error)
	// view is gitops.ViewTip, for a pipeline whose apps are discovered in
	// the tree.
	view func(ctx context.Context, location, branch string, auth transport.AuthMethod, fn func(fs.FS) error) (string, error)
	// parse is config.Parse; tests count it.
	parse func(filename string, data []byte, opts ...config.ParseOption) (*config.Config, error)

	mu      sync.Mutex
	commit  string
	blob    plumbing.Hash // conveyor.yaml's blob hash at commit
	cfg     *config.Config
	err     error
	checked time.Time
	// base is the file parsed without the tree; with discover rules, cfg
	// adds the apps found, which are the rest of the key: a commit that
	// neither changes the file nor adds or removes an app's directory
	// (every promotion merge) is not parsed again.
	base     *config.Config
	found    []config.Found
	expanded bool // cfg holds found
}

// Option configures a Cache.
type Option func(*Cache)

// WithTimeout bounds each step of a read (default 30 s).
func WithTimeout(d time.Duration) Option { return func(c *Cache) { c.timeout = d } }

// WithMaxAge reuses the parsed file for d after its tip was last checked
// without asking again (default 0: every call checks the tip). On Lambda it
// saves a round trip per message at the price of seeing a change up to d
// late.
func WithMaxAge(d time.Duration) Option { return func(c *Cache) { c.maxAge = d } }

// WithObjects reads the file through objects, so that a remote branch's
// new commits are fetched rather than its whole tree each time the tip
// moves (default: a fresh shallow fetch per read).
func WithObjects(objects *gitops.ObjectCache) Option {
	return func(c *Cache) {
		c.read = func(ctx context.Context, location, branch, path string, auth transport.AuthMethod) ([]byte, string, error) {
			return gitops.ReadFileCached(ctx, objects, location, branch, path, auth)
		}
		c.view = func(ctx context.Context, location, branch string, auth transport.AuthMethod, fn func(fs.FS) error) (string, error) {
			return gitops.ViewTip(ctx, objects, location, branch, auth, func(s *gitops.Snapshot) error { return fn(s) })
		}
	}
}

// NewCache returns the cache of conveyor.yaml on branch (HEAD when empty)
// of the repository at location (a path, a file:// or an https URL); auth
// may be nil for a public or local repository.
func NewCache(location, branch string, auth GitAuth, opts ...Option) *Cache {
	c := &Cache{location: location, branch: branch, auth: auth, timeout: defaultTimeout, now: time.Now,
		head: gitops.Head, read: gitops.ReadFile, parse: config.Parse, view: viewTip}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Config returns the current pipeline; it is a config.Loader.
func (c *Cache) Config(ctx context.Context) (*config.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.commit != "" && c.maxAge > 0 && c.now().Sub(c.checked) < c.maxAge {
		return c.cfg, c.err
	}
	auth, err := c.credentials(ctx)
	if err != nil {
		return nil, err
	}
	if c.commit != "" {
		tip, err := c.tip(ctx, auth)
		if err != nil {
			return nil, err
		}
		if tip == c.commit {
			c.checked = c.now()
			return c.cfg, c.err
		}
	}
	return c.load(ctx, auth)
}

func (c *Cache) credentials(ctx context.Context) (transport.AuthMethod, error) {
	if c.auth == nil {
		return nil, nil
	}
	auth, err := c.auth(ctx, c.location)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", File, err)
	}
	return auth, nil
}

func (c *Cache) tip(ctx context.Context, auth transport.AuthMethod) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	tip, err := c.head(ctx, c.location, c.branch, auth)
	if err != nil {
		return "", fmt.Errorf("checking for a new %s: %w", File, err)
	}
	return tip, nil
}

// load reads and parses the file at the tip it fetches, which may be
// newer than the tip just checked: what is kept is what was read.
func (c *Cache) load(ctx context.Context, auth transport.AuthMethod) (*config.Config, error) {
	if c.discovers() {
		return c.loadTree(ctx, auth)
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	data, commit, err := c.read(rctx, c.location, c.branch, File, auth)
	if err != nil {
		return nil, err
	}
	blob := plumbing.ComputeHash(plumbing.BlobObject, data)
	if c.commit != "" && blob == c.blob {
		c.commit, c.checked = commit, c.now()
		return c.cfg, c.err
	}
	cfg, err := c.parse(File, data)
	c.base = cfg
	if c.discovers() {
		// The apps come from the tree: read it and the file together.
		c.blob, c.expanded = blob, false
		return c.loadTree(ctx, auth)
	}
	if err != nil {
		// config.Errors stays reachable: handlers treat it as permanent.
		err = fmt.Errorf("parsing %s at %.12s: %w", File, commit, err)
	}
	c.commit, c.blob, c.cfg, c.err, c.checked = commit, blob, cfg, err, c.now()
	c.expanded = false
	return cfg, err
}
