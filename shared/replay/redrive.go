package replay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
)

// ErrNotDead means a message was no longer dead-lettered when Redrive got
// to it (another operator moved it, or it was deleted): Redrive counts it
// as skipped. It is sqlitequeue.ErrNotDead, so either matches errors.Is.
var ErrNotDead = sqlitequeue.ErrNotDead

// Dead is the port Redrive works through: dead-letter queues that can be
// listed and whose messages can be moved back.
type Dead interface {
	// List returns the dead letters of work queue name ("" for every
	// queue), oldest first.
	List(ctx context.Context, name string) ([]Record, error)
	// Redrive moves one listed message back to its work queue with its
	// envelope's Replayed counter bumped, or returns ErrNotDead.
	Redrive(ctx context.Context, r Record) error
}

// Releaser is a Dead whose List holds messages (SQS hides received
// messages): Release gives back those Redrive did not move.
type Releaser interface {
	Release(ctx context.Context, rs []Record) error
}

// Mover is a Dead that can move a whole dead-letter queue back on the
// server, as SQS's StartMessageMoveTask does. MoveAll returns how many
// messages are about to move (approximately) and the task's handle, or
// ErrNoMoveTask when it cannot, and Redrive then moves message by message.
type Mover interface {
	MoveAll(ctx context.Context, name string, rate float64) (moving int, task string, err error)
}

// ErrNoMoveTask means a Mover cannot start a server-side move.
var ErrNoMoveTask = errors.New("server-side message move not available")

// Options tune one Redrive.
type Options struct {
	// DryRun lists what would move and moves nothing.
	DryRun bool
	// Rate caps moves per second; 0 is unlimited.
	Rate float64
	// Limit caps how many messages move; 0 is no cap.
	Limit int
	// Progress, if set, is called after each message with the number
	// handled and the number to handle.
	Progress func(done, total int)
}

// Summary is what a Redrive did.
type Summary struct {
	// Matched counts the dead letters the filter selected, before Limit.
	Matched int  `json:"matched"`
	Moved   int  `json:"moved"`
	Skipped int  `json:"skipped"`
	Failed  int  `json:"failed"`
	DryRun  bool `json:"dry_run,omitempty"`
	// IDs are the messages moved, or that would move on a dry run.
	IDs    []string `json:"ids,omitempty"`
	Errors []string `json:"errors,omitempty"`
	// MoveTask is the handle of a server-side move task, when the whole
	// queue was moved by one; Moved is then approximate.
	MoveTask string `json:"move_task,omitempty"`
}

// Redrive moves the dead letters f selects back to their work queues, at
// most opts.Limit of them at opts.Rate per second. A message already gone
// is skipped; a failure is counted and reported, and the others still move.
// The error is for what stopped the run (listing, ctx); the summary is
// valid with it.
func Redrive(ctx context.Context, dead Dead, f Filter, opts Options) (Summary, error) {
	s := Summary{DryRun: opts.DryRun}
	if opts.Rate < 0 || opts.Limit < 0 {
		return s, fmt.Errorf("redriving: rate %v and limit %d must not be negative", opts.Rate, opts.Limit)
	}
	if m, ok := dead.(Mover); ok && f.wholeQueue() && !opts.DryRun && opts.Limit == 0 {
		n, task, err := m.MoveAll(ctx, f.Queue, opts.Rate)
		switch {
		case err == nil:
			s.Matched, s.Moved, s.MoveTask = n, n, task
			return s, nil
		case !errors.Is(err, ErrNoMoveTask):
			return s, fmt.Errorf("redriving %s: %w", f.Queue, err)
		}
	}
	// A Dead that holds what it lists (SQS) may hide messages behind
	// held ones (the rest of a FIFO group), so it is listed again after
	// each pass that moved something.
	_, holds := dead.(Releaser)
	seen := map[string]bool{}
	var interval time.Duration
	if opts.Rate > 0 {
		interval = time.Duration(float64(time.Second) / opts.Rate)
	}
	start, n := time.Now(), 0
	for {
		all, err := dead.List(ctx, f.Queue)
		if err != nil {
			return s, fmt.Errorf("redriving: %w", err)
		}
		var todo, keep []Record
		for _, r := range all {
			fresh := !seen[r.ID]
			seen[r.ID] = true
			switch {
			case !fresh || !f.Match(r):
				keep = append(keep, r)
			case opts.Limit > 0 && s.Matched >= opts.Limit:
				s.Matched++
				keep = append(keep, r)
			default:
				s.Matched++
				todo = append(todo, r)
			}
		}
		if opts.DryRun {
			for _, r := range todo {
				s.IDs = append(s.IDs, r.ID)
			}
			return s, release(ctx, dead, all)
		}
		moved := s.Moved
		for i, r := range todo {
			if err := pace(ctx, start.Add(time.Duration(n)*interval)); err != nil {
				rerr := release(ctx, dead, append(keep, todo[i:]...))
				return s, errors.Join(fmt.Errorf("redriving: %w", err), rerr)
			}
			n++
			switch err := dead.Redrive(ctx, r); {
			case err == nil:
				s.Moved++
				s.IDs = append(s.IDs, r.ID)
			case errors.Is(err, ErrNotDead):
				s.Skipped++
			default:
				s.Failed++
				// Dead implementations name the message in their errors.
				s.Errors = append(s.Errors, err.Error())
				keep = append(keep, r)
			}
			if opts.Progress != nil {
				opts.Progress(n, max(n, total(s, opts)))
			}
		}
		if err := release(ctx, dead, keep); err != nil {
			return s, err
		}
		if !holds || s.Moved == moved || (opts.Limit > 0 && s.Moved+s.Skipped+s.Failed >= opts.Limit) {
			return s, nil
		}
	}
}

// total is how many messages a Redrive expects to handle, as far as it
// knows: the matches, capped by the limit.
func total(s Summary, opts Options) int {
	if opts.Limit > 0 {
		return min(s.Matched, opts.Limit)
	}
	return s.Matched
}

// pace waits until at, or until ctx is done.
func pace(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func release(ctx context.Context, dead Dead, rs []Record) error {
	r, ok := dead.(Releaser)
	if !ok || len(rs) == 0 {
		return nil
	}
	// Released even when ctx is cancelled: otherwise the messages stay
	// hidden until their visibility timeout ends.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := r.Release(ctx, rs); err != nil {
		return fmt.Errorf("releasing unmoved messages: %w", err)
	}
	return nil
}
