package retry

import (
	"errors"
	"math/rand/v2"
	"time"
)

type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// Permanent marks err as one no retry can fix (bad input, invalid config,
// 404/422 from a forge). A nil err stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err}
}

// IsPermanent reports whether err, or any error it wraps, was marked
// Permanent.
func IsPermanent(err error) bool {
	var p *permanent
	return errors.As(err, &p)
}

type after struct {
	err error
	d   time.Duration
}

func (a *after) Error() string { return a.err.Error() }
func (a *after) Unwrap() error { return a.err }

// After marks err as transient with a server-given wait (HTTP Retry-After).
func After(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &after{err, d}
}

// RetryAfter returns the wait attached by After, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var a *after
	if errors.As(err, &a) {
		return a.d, true
	}
	return 0, false
}

// Backoff is an exponential backoff with jitter.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// DefaultBackoff starts at 2 s and stops growing at 15 minutes.
var DefaultBackoff = Backoff{Base: 2 * time.Second, Max: 15 * time.Minute}

// Delay returns the wait before attempt n+1 after n failed attempts (n ≥ 1):
// a random duration in [d/2, d] where d = Base·2^(n-1) capped at Max. A
// Retry-After on err wins when it is longer.
func (b Backoff) Delay(n int, err error) time.Duration {
	if n < 1 {
		n = 1
	}
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	if d > 1 {
		d = d/2 + rand.N(d/2+1)
	}
	if ra, ok := RetryAfter(err); ok && ra > d {
		d = ra
	}
	return d
}
