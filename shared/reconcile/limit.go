package reconcile

import (
	"context"
	"sync"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
)

// Limiter is a token bucket: reconciliation's share of the forge's request
// budget, so that a pass over many pull requests and sources never crowds
// out the pipeline's own calls.
type Limiter struct {
	mu     sync.Mutex
	every  time.Duration // one token per every
	burst  float64
	tokens float64
	last   time.Time
}

// DefaultPerMinute is reconciliation's default budget: well under
// GitHub's 5,000 requests an hour for an installation.
const DefaultPerMinute = 60

// NewLimiter allows perMinute requests a minute on average and burst at
// once. perMinute ≤ 0 means no limit (nil).
func NewLimiter(perMinute, burst int) *Limiter {
	if perMinute <= 0 {
		return nil
	}
	burst = max(burst, 1)
	return &Limiter{every: time.Minute / time.Duration(perMinute), burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

// Wait blocks until a request may go, or ctx ends. A nil Limiter never
// waits.
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	for {
		l.mu.Lock()
		now := time.Now()
		l.tokens = min(l.burst, l.tokens+float64(now.Sub(l.last))/float64(l.every))
		l.last = now
		if l.tokens >= 1 {
			l.tokens--
			l.mu.Unlock()
			return nil
		}
		wait := time.Duration((1 - l.tokens) * float64(l.every))
		l.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// limited is a forge whose every call first waits for the limiter.
type limited struct {
	f forge.Forge
	l *Limiter
}

// Limit decorates f so that every call spends a token of l.
func Limit(f forge.Forge, l *Limiter) forge.Forge {
	if l == nil {
		return f
	}
	return &limited{f, l}
}

var _ forge.Forge = (*limited)(nil)

func (x *limited) FindOpen(ctx context.Context, branch string) (*forge.PR, error) {
	if err := x.l.Wait(ctx); err != nil {
		return nil, err
	}
	return x.f.FindOpen(ctx, branch)
}

func (x *limited) Get(ctx context.Context, number int) (*forge.PR, error) {
	if err := x.l.Wait(ctx); err != nil {
		return nil, err
	}
	return x.f.Get(ctx, number)
}

func (x *limited) Create(ctx context.Context, pr forge.NewPR) (*forge.PR, error) {
	if err := x.l.Wait(ctx); err != nil {
		return nil, err
	}
	return x.f.Create(ctx, pr)
}

func (x *limited) Update(ctx context.Context, number int, title, body string, labels []string) (*forge.PR, error) {
	if err := x.l.Wait(ctx); err != nil {
		return nil, err
	}
	return x.f.Update(ctx, number, title, body, labels)
}

func (x *limited) Merge(ctx context.Context, number int, opts forge.MergeOptions) (string, error) {
	if err := x.l.Wait(ctx); err != nil {
		return "", err
	}
	return x.f.Merge(ctx, number, opts)
}

func (x *limited) Close(ctx context.Context, number int, comment string) error {
	if err := x.l.Wait(ctx); err != nil {
		return err
	}
	return x.f.Close(ctx, number, comment)
}

func (x *limited) Reviews(ctx context.Context, number int) ([]forge.Review, error) {
	if err := x.l.Wait(ctx); err != nil {
		return nil, err
	}
	return x.f.Reviews(ctx, number)
}

func (x *limited) ChecksPassed(ctx context.Context, sha string) (bool, error) {
	if err := x.l.Wait(ctx); err != nil {
		return false, err
	}
	return x.f.ChecksPassed(ctx, sha)
}
