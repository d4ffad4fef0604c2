package state

import (
	"context"
	"errors"
	"time"
)

// Errors every adapter returns for the same conditions.
var (
	// ErrNotFound means no record has the key.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a conditional write lost: the record changed since
	// it was read (or already exists, for a create).
	ErrConflict = errors.New("conflicting write")
)

// Status of an idempotency record.
type Status string

// Idempotency statuses.
const (
	InProgress Status = "in_progress"
	Completed  Status = "completed"
)

// Idem is an idempotency record.
type Idem struct {
	Key    string
	Status Status
	// Result is what the completed operation returned, replayed to
	// duplicates.
	Result []byte
	// ExpiresAt ends an in-progress claim (so a crashed invocation's claim
	// does not block retries forever) or a completed record's retention.
	ExpiresAt time.Time
	UpdatedAt time.Time
}

// Idempotency claims operations so that duplicates do nothing.
type Idempotency interface {
	// Claim marks key in progress until now+lease. It returns claimed
	// true when the caller now owns the key: the key was absent, or its
	// record had expired. Otherwise it returns the existing record.
	Claim(ctx context.Context, key string, lease time.Duration) (rec Idem, claimed bool, err error)
	// Complete marks key completed with result, kept for retention.
	Complete(ctx context.Context, key string, result []byte, retention time.Duration) error
	// Release forgets an in-progress claim so a retry can claim it at once.
	Release(ctx context.Context, key string) error
	// Renew extends the in-progress claim held, as Claim or the last Renew
	// returned it, to now+lease, and returns the renewed record. A claim
	// that is no longer held — taken over after it expired, completed or
	// released — is not renewed: Renew returns ErrConflict. The stored
	// expiry, to the millisecond, identifies the holder.
	Renew(ctx context.Context, held Idem, lease time.Duration) (Idem, error)
	// Get returns key's record as stored, expired or not, or ErrNotFound.
	Get(ctx context.Context, key string) (Idem, error)
}

// ReleaseState is where a release stands.
type ReleaseState string

// Release states.
const (
	Proposed   ReleaseState = "proposed"   // a promotion PR is open
	Merged     ReleaseState = "merged"     // the PR merged: the environment runs this digest
	Superseded ReleaseState = "superseded" // a newer digest replaced the proposal
	Rejected   ReleaseState = "rejected"   // the PR was closed without merging
	Skipped    ReleaseState = "skipped"    // older than what the environment has: never proposed
)

// Release is one digest's journey into one environment.
type Release struct {
	// ID is unique per release: "app/env/digest", with a suffix for a
	// rollback, or for a new proposal of a digest whose earlier release
	// into the environment has finished (merged, rejected, superseded).
	ID           string
	App          string
	Env          string
	Image        string
	Digest       string
	Tag          string
	SourceRepo   string
	SourceCommit string
	SourceTime   time.Time
	State        ReleaseState
	Rollback     bool
	PR           int
	PRURL        string
	Branch       string
	// HeadSHA is the head commit of Branch that proposed this digest: a
	// pull request updated in place merges the proposal whose head it
	// merged at.
	HeadSHA     string
	MergeCommit string
	MergedBy    string
	// ApprovedBy are the reviewers whose approval stood on the merged
	// head, sorted; on a proposed release, those whose approval of its
	// head counts so far (for display: the forge decides the merge).
	ApprovedBy []string
	// Override is the reason given for merging past the release policy;
	// empty when the policy held.
	Override  string
	TraceID   string
	Note      string
	CreatedAt time.Time
	UpdatedAt time.Time
	MergedAt  time.Time
	// Version is the record's revision for optimistic concurrency: Put
	// with Version 0 creates, otherwise it must match the stored one.
	Version int
}

// ReleaseFilter selects releases; empty fields match everything.
type ReleaseFilter struct {
	App   string
	Env   string
	State ReleaseState
	// Newest, when positive, keeps only the newest Newest matching
	// releases (by creation), still listed oldest first. With App and Env
	// set the stores read only those, through their index, so a reader
	// that shows a few records per app and environment costs the same
	// however long the history is.
	Newest int
	// ByUpdate makes Newest count by last update instead of creation, and
	// lists by update: what changed last comes last.
	ByUpdate bool
	// UpdatedSince, when set, keeps releases written at or after it: a
	// release merged in a window was last written in it or later, so a
	// window's metrics need no older record.
	UpdatedSince time.Time
	// PR, when positive, keeps only releases proposed in that pull
	// request, read through the stores' index: a page of one pull request
	// costs its own few releases, not the history.
	PR int
}

// Releases stores release records.
type Releases interface {
	// PutRelease creates (Version 0) or updates (Version matching the
	// stored one) a release, and increments r.Version. It returns
	// ErrConflict when the condition fails.
	PutRelease(ctx context.Context, r *Release) error
	// GetRelease returns the release with id, or ErrNotFound.
	GetRelease(ctx context.Context, id string) (Release, error)
	// ListReleases returns matching releases, oldest first.
	ListReleases(ctx context.Context, f ReleaseFilter) ([]Release, error)
}

// Latest is the newest work wanted for one key — an app and environment
// for promotions, an app's branch for builds — written when the work is
// queued and read when it is consumed, so that older work still in the
// queue is skipped (superseded) rather than carried out. It lives in the
// store, not in a process, so every consumer instance sees the same one.
type Latest struct {
	Key string
	// Work identifies the wanted work: a digest, or a commit.
	Work       string
	SourceRepo string
	Revision   string
	SourceTime time.Time
	// Due ends the settle window of the burst Work belongs to: the wanted
	// work waits until then for newer work, and older work is skipped.
	Due time.Time
	// Done is set once Work has gone ahead (its consumer proceeded);
	// the next wanted work opens a new window.
	Done      bool
	UpdatedAt time.Time
	// Version is the record's revision for optimistic concurrency: Put
	// with Version 0 creates, otherwise it must match the stored one.
	Version int
}

// Latests stores Latest records.
type Latests interface {
	// PutLatest creates (Version 0) or updates (Version matching the
	// stored one) l, and increments l.Version. It returns ErrConflict
	// when the condition fails.
	PutLatest(ctx context.Context, l *Latest) error
	// GetLatest returns key's record, or ErrNotFound.
	GetLatest(ctx context.Context, key string) (Latest, error)
}

// Store is every part of the port.
type Store interface {
	Idempotency
	Releases
	Latests
}
