package forge

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound means the pull request does not exist.
var ErrNotFound = errors.New("pull request not found")

// ErrNotMergeable means the forge refuses to merge the pull request now
// (conflicts, failing required checks, missing approvals, head moved).
var ErrNotMergeable = errors.New("pull request not mergeable")

// PR states.
const (
	StateOpen   = "open"
	StateClosed = "closed"
	StateMerged = "merged"
)

// PR is a pull request as Conveyor sees it.
type PR struct {
	Number int
	URL    string
	Title  string
	Body   string
	// Branch is the head branch, Base the branch it merges into.
	Branch string
	Base   string
	// HeadRepo is the "owner/name" of the repository the head branch
	// lives in: a fork's pull request carries the fork's name.
	HeadRepo string
	// HeadSHA is the head commit; for a merged pull request, the head it
	// was merged at.
	HeadSHA string
	Labels  []string
	// State is StateOpen, StateClosed or StateMerged.
	State string
	// Mergeable is nil while the forge is still computing it.
	Mergeable   *bool
	MergeCommit string
	MergedBy    string
	// Override is the reason given when someone merged past the release
	// policy (the local forge's `conveyor pr merge --override`); empty
	// when the policy held.
	Override  string
	CreatedAt time.Time
	MergedAt  time.Time
}

// NewPR is a pull request to open.
type NewPR struct {
	Branch string
	Base   string
	Title  string
	Body   string
	Labels []string
	// Reviewers are users ("alice") or teams ("org/team").
	Reviewers []string
}

// Review is one submitted review.
type Review struct {
	User string
	// State is "approved", "changes_requested" or "commented".
	State    string
	CommitID string
	At       time.Time
}

// Merge methods.
const (
	MergeMerge  = "merge"
	MergeSquash = "squash"
	MergeRebase = "rebase"
)

// MergeOptions say how to merge a pull request.
type MergeOptions struct {
	// Method is MergeMerge, MergeSquash, MergeRebase, or empty for the
	// repository's default.
	Method string
	// HeadSHA is the head the merge is meant for: a pull request whose
	// head moved is not merged (empty: any head).
	HeadSHA string
	// Message is added to the merge commit's message (who approved, an
	// override); empty adds nothing.
	Message string
}

// Forge opens, updates, merges and closes pull requests on one repository.
// Every method is idempotent where the forge allows it: creating a PR for a
// branch that already has one returns that PR.
type Forge interface {
	// FindOpen returns the open PR whose head is branch, or ErrNotFound.
	FindOpen(ctx context.Context, branch string) (*PR, error)
	// Get returns PR number.
	Get(ctx context.Context, number int) (*PR, error)
	// Create opens a PR, or returns the open PR for the same branch.
	Create(ctx context.Context, pr NewPR) (*PR, error)
	// Update sets the title, body and labels of an open PR.
	Update(ctx context.Context, number int, title, body string, labels []string) (*PR, error)
	// Merge merges PR number as opts say, if its head is still
	// opts.HeadSHA (empty: any). It returns the merge commit.
	Merge(ctx context.Context, number int, opts MergeOptions) (string, error)
	// Close closes PR number without merging, leaving comment.
	Close(ctx context.Context, number int, comment string) error
	// Reviews lists PR number's submitted reviews, oldest first.
	Reviews(ctx context.Context, number int) ([]Review, error)
	// ChecksPassed reports whether every status and check on sha is green;
	// pending counts as not passed.
	ChecksPassed(ctx context.Context, sha string) (bool, error)
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
