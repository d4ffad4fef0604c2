package coalesce

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Work is one unit of work as coalescing compares it.
type Work struct {
	// Key groups the work that supersedes one another ("promote/web/dev").
	Key string
	// ID identifies the work within its key: a digest, a commit.
	ID         string
	SourceRepo string
	Revision   string
	SourceTime time.Time
}

// Verdict is what a consumer does with its work.
type Verdict int

// Verdicts of Decide.
const (
	// Proceed: the work is the newest wanted and its window has ended.
	Proceed Verdict = iota
	// Wait: the work is the newest wanted; its window ends after Wait.
	Wait
	// Supersede: newer work is wanted; skip this one and record it.
	Supersede
)

func (v Verdict) String() string { return [...]string{"proceed", "wait", "supersede"}[v] }

// Decision is a Verdict with the wait or the newer work.
type Decision struct {
	Verdict Verdict
	Wait    time.Duration
	// Newer is the wanted work that supersedes this one.
	Newer state.Latest
}

// Newer reports whether the wanted work is newer than w. The caller's
// order decides: source history for promotions, arrival for builds.
type Newer func(ctx context.Context, wanted state.Latest, w Work) (bool, error)

// Coalescer reads and writes the Latest records.
type Coalescer struct {
	Store state.Latests
	// Now is time.Now when nil.
	Now func() time.Time
}

// attempts bounds the conditional-write loops: each lost write means
// another writer made progress.
const attempts = 8

// ErrContended means too many concurrent writers changed a key's record.
var ErrContended = errors.New("latest record contended")

func (c Coalescer) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// Want records w as its key's newest wanted work, as it is queued. The
// last work queued is wanted (the consumer corrects a late older one with
// its order); the first work after a done one opens a window of settle.
func (c Coalescer) Want(ctx context.Context, w Work, settle time.Duration) error {
	return c.update(ctx, w.Key, func(l *state.Latest, found bool) bool {
		if found && l.Work == w.ID {
			return false
		}
		c.take(l, w, found, settle)
		return true
	})
}

// Decide says what the consumer of w does: Proceed, Wait until the
// window ends, or Supersede when the wanted work is newer than w. Work
// newer than the wanted (or unrecorded) takes the record over. Proceed
// marks the record done, so a retry of w proceeds again while the next
// work waits out a new window.
func (c Coalescer) Decide(ctx context.Context, w Work, settle time.Duration, newer Newer) (Decision, error) {
	var d Decision
	var orderErr error
	err := c.update(ctx, w.Key, func(l *state.Latest, found bool) bool {
		d, orderErr = Decision{}, nil
		if found && l.Work != w.ID {
			n, err := newer(ctx, *l, w)
			if err != nil {
				orderErr = err
				return false
			}
			if n {
				d = Decision{Verdict: Supersede, Newer: *l}
				return false
			}
		}
		changed := !found || l.Work != w.ID
		if changed {
			c.take(l, w, found, settle)
		}
		if wait := l.Due.Sub(c.now()); wait > 0 && !l.Done {
			d = Decision{Verdict: Wait, Wait: wait}
			return changed
		}
		// Going ahead closes the window now, not when the work is
		// finished: work queued while it runs opens a window of its own
		// instead of going ahead at once beside it.
		if !l.Done {
			l.Done, changed = true, true
		}
		return changed
	})
	if err == nil && orderErr != nil {
		err = fmt.Errorf("ordering %s against the wanted work: %w", w.ID, orderErr)
	}
	return d, err
}

// take makes w the wanted work of l: in a new window when l was absent or
// gone ahead, in l's window otherwise, so a steady stream cannot postpone the
// window's end.
func (c Coalescer) take(l *state.Latest, w Work, found bool, settle time.Duration) {
	if !found || l.Done {
		l.Due, l.Done = c.now().Add(settle), false
	}
	l.Key, l.Work, l.SourceRepo, l.Revision, l.SourceTime = w.Key, w.ID, w.SourceRepo, w.Revision, w.SourceTime
}

// update reads key's record, lets change edit it, and writes it when
// change says so, retrying on a lost conditional write.
func (c Coalescer) update(ctx context.Context, key string, change func(l *state.Latest, found bool) bool) error {
	for range attempts {
		l, err := c.Store.GetLatest(ctx, key)
		found := err == nil
		switch {
		case errors.Is(err, state.ErrNotFound):
			l = state.Latest{Key: key}
		case err != nil:
			return err
		}
		if !change(&l, found) {
			return nil
		}
		err = c.Store.PutLatest(ctx, &l)
		if !errors.Is(err, state.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("%w: %s", ErrContended, key)
}
