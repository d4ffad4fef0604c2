package gitops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// ErrNoChanges means an edit left the base branch's tree as it was: there is
// nothing to propose or land. An Edit may return it too.
var ErrNoChanges = errors.New("no changes")

// ErrBranchNotFound means a branch the operation needs is absent from the
// remote repository. It is always marked permanent.
var ErrBranchNotFound = errors.New("branch not found")

// ErrRaceLost means other writers moved the base branch between the fetch
// and the push of every attempt Land made. It is transient.
var ErrRaceLost = errors.New("base branch moved on every attempt")

// Edit computes the changes a promotion makes from a read-only snapshot of
// the base branch's tip (a *Snapshot). The result maps slash-separated paths
// to their new content; a nil value deletes the file. An empty result, or
// ErrNoChanges, means there is nothing to change.
type Edit func(snap fs.FS) (map[string][]byte, error)

// Commit describes the commit an operation produced or found.
type Commit struct {
	// SHA is the commit now at the tip of the pushed branch.
	SHA string
	// Base is the base branch's tip the commit was built on.
	Base string
	// Files are the paths whose content the commit changes, sorted.
	Files []string
	// Changed is false when nothing was pushed because the branch already
	// held an equivalent commit.
	Changed bool
	// Attempts is how many fetch-edit-push rounds were needed (1 unless
	// Land lost a race with another writer).
	Attempts int
}

// Repo is a remote GitOps repository, reached with go-git only (no git
// binary is needed for https URLs). Every operation clones the base branch
// shallowly into memory, so a Repo holds no state between calls and is safe
// for concurrent use.
type Repo struct {
	// URL is https://…, file://… or a local path.
	URL string
	// Base is the base branch, e.g. "main".
	Base string
	// Auth is nil or, for GitHub, &http.BasicAuth{Username:
	// "x-access-token", Password: token}.
	Auth transport.AuthMethod
	// Author signs every commit; When is set per commit.
	Author object.Signature

	opts options
}

// Option configures a Repo built by New.
type Option func(*options) error

type options struct {
	attempts int
	timeout  time.Duration
	logger   *slog.Logger
	// beforePush runs between the edit and each push; tests use it to
	// simulate a concurrent writer.
	beforePush func(ctx context.Context, attempt int) error
	// objects, when set, keeps fetched objects between Propose calls.
	objects *ObjectCache
}

// Defaults, set in one place.
const (
	defaultAttempts    = 5
	defaultTimeout     = 60 * time.Second
	defaultAuthorName  = "Conveyor"
	defaultAuthorEmail = "conveyor@localhost"
)

// WithAttempts sets how many times Land fetches, edits and pushes before
// giving up on a base branch that keeps moving (default 5).
func WithAttempts(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("attempts must be at least 1, got %d", n)
		}
		o.attempts = n
		return nil
	}
}

// WithTimeout bounds each network step (listing refs, fetching, pushing)
// separately (default 60 s).
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("timeout must be positive, got %s", d)
		}
		o.timeout = d
		return nil
	}
}

// WithLogger sets the logger for retries of lost push races (default: none).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		o.logger = l
		return nil
	}
}

// New returns a Repo for the repository at rawURL whose base branch is base,
// authenticating with auth (nil for none) and signing commits as author. A
// Repo literal works too and uses the defaults.
func New(rawURL, base string, auth transport.AuthMethod, author object.Signature, opts ...Option) (*Repo, error) {
	if rawURL == "" || base == "" {
		return nil, fmt.Errorf("configuring repository: URL and base branch are required")
	}
	r := &Repo{URL: rawURL, Base: base, Auth: auth, Author: author}
	for _, opt := range opts {
		if err := opt(&r.opts); err != nil {
			return nil, fmt.Errorf("configuring repository %s: %w", r.where(), err)
		}
	}
	return r, nil
}

func (r *Repo) attempts() int {
	if r.opts.attempts > 0 {
		return r.opts.attempts
	}
	return defaultAttempts
}

func (r *Repo) timeout() time.Duration {
	if r.opts.timeout > 0 {
		return r.opts.timeout
	}
	return defaultTimeout
}

func (r *Repo) logger() *slog.Logger {
	if r.opts.logger != nil {
		return r.opts.logger
	}
	return slog.New(slog.DiscardHandler)
}

// signature returns the author at when, truncated to the second git stores.
func (r *Repo) signature(when time.Time) object.Signature {
	s := r.Author
	if s.Name == "" {
		s.Name = defaultAuthorName
	}
	if s.Email == "" {
		s.Email = defaultAuthorEmail
	}
	if when.IsZero() {
		when = time.Now()
	}
	s.When = when.Truncate(time.Second)
	return s
}

// endpoint turns a local path into a file:// URL: go-git treats a bare path
// as a "local endpoint" and then walks the remote's whole history to compute
// what to push.
func (r *Repo) endpoint() (string, error) {
	if strings.Contains(r.URL, "://") {
		return r.URL, nil
	}
	abs, err := filepath.Abs(r.URL)
	if err != nil {
		return "", retry.Permanent(err)
	}
	return "file://" + filepath.ToSlash(abs), nil
}

// where is the URL without credentials (a token may be the user name), for
// error messages.
func (r *Repo) where() string { return logging.RedactURLs(r.URL) }

// classify marks the failures no retry can fix as permanent; anything else
// (network errors, timeouts, server errors) stays transient.
func classify(err error) error {
	// go-git's remote errors repeat the URL, credentials included.
	err = logging.RedactError(err)
	switch {
	case err == nil, retry.IsPermanent(err):
		return err
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrRepositoryNotFound),
		errors.Is(err, transport.ErrInvalidAuthMethod),
		errors.Is(err, transport.ErrEmptyRemoteRepository),
		errors.Is(err, ErrBranchNotFound):
		return retry.Permanent(err)
	}
	return err
}
