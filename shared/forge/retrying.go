package forge

import (
	"context"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Retrying decorates a Forge: a transient failure (5xx, a dropped
// connection, a short Retry-After) is retried in place a few times before
// the error goes back to the queue, which retries the whole message with a
// much longer backoff. Permanent errors and waits longer than MaxWait return
// at once.
type Retrying struct {
	Forge
	Attempts int           // total tries per call (default 3)
	Backoff  retry.Backoff // default 200 ms doubling to 2 s
	MaxWait  time.Duration // longest Retry-After honoured in place (default 5 s)
}

var _ Forge = (*Retrying)(nil)

func do[T any](ctx context.Context, r *Retrying, fn func() (T, error)) (T, error) {
	attempts, b, maxWait := r.Attempts, r.Backoff, r.MaxWait
	if attempts <= 0 {
		attempts = 3
	}
	if b == (retry.Backoff{}) {
		b = retry.Backoff{Base: 200 * time.Millisecond, Max: 2 * time.Second}
	}
	if maxWait == 0 {
		maxWait = 5 * time.Second
	}
	var zero T
	for i := 1; ; i++ {
		v, err := fn()
		if err == nil || retry.IsPermanent(err) || i == attempts {
			return v, err
		}
		wait := b.Delay(i, err)
		if wait > maxWait {
			return zero, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return zero, err
		case <-t.C:
		}
	}
}

// FindOpen implements Forge. ErrNotFound is an answer, not a failure.
func (r *Retrying) FindOpen(ctx context.Context, branch string) (*PR, error) {
	return do(ctx, r, func() (*PR, error) {
		pr, err := r.Forge.FindOpen(ctx, branch)
		if err != nil && isNotFound(err) {
			return nil, retry.Permanent(err)
		}
		return pr, err
	})
}

// Get implements Forge.
func (r *Retrying) Get(ctx context.Context, n int) (*PR, error) {
	return do(ctx, r, func() (*PR, error) { return r.Forge.Get(ctx, n) })
}

// Create implements Forge; creating is idempotent per branch.
func (r *Retrying) Create(ctx context.Context, pr NewPR) (*PR, error) {
	return do(ctx, r, func() (*PR, error) { return r.Forge.Create(ctx, pr) })
}

// Update implements Forge.
func (r *Retrying) Update(ctx context.Context, n int, title, body string, labels []string) (*PR, error) {
	return do(ctx, r, func() (*PR, error) { return r.Forge.Update(ctx, n, title, body, labels) })
}

// Merge implements Forge; merging a merged PR returns its merge commit.
func (r *Retrying) Merge(ctx context.Context, n int, opts MergeOptions) (string, error) {
	return do(ctx, r, func() (string, error) { return r.Forge.Merge(ctx, n, opts) })
}

// Close implements Forge.
func (r *Retrying) Close(ctx context.Context, n int, comment string) error {
	_, err := do(ctx, r, func() (struct{}, error) { return struct{}{}, r.Forge.Close(ctx, n, comment) })
	return err
}

// Reviews implements Forge.
func (r *Retrying) Reviews(ctx context.Context, n int) ([]Review, error) {
	return do(ctx, r, func() ([]Review, error) { return r.Forge.Reviews(ctx, n) })
}

// ChecksPassed implements Forge.
func (r *Retrying) ChecksPassed(ctx context.Context, sha string) (bool, error) {
	return do(ctx, r, func() (bool, error) { return r.Forge.ChecksPassed(ctx, sha) })
}
