package build

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// DefaultLease is how long a build's claim lasts unless its heartbeat
// renews it: short, so that a killed build is taken over well inside the
// queue's retry budget, and renewed every third of it while the build runs.
const DefaultLease = 30 * time.Second

// Key is the idempotency key of app's build of commit: its record holds
// the Built result once the image is pushed.
func Key(app, commit string) string { return "build/" + app + "/" + commit }

// ErrClaimHeld means another build of the same commit holds the claim and
// is alive: the delivery waits for it (retry.Defer the remaining lease).
var ErrClaimHeld = errors.New("another build holds the claim")

// ErrClaimLost means a build's claim was taken over while it ran (its
// heartbeat could not renew it in time): the build stops and its delivery
// is retried, to find the other build's result.
var ErrClaimLost = errors.New("the build claim was taken over")

// awaitHolder waits while another build holds key, polling the claim: it
// returns the completed record (claimed false) once the holder finishes,
// or the claim (claimed true) once the holder's lease lapses — a dead
// build is taken over within one lease. A holder still alive when the
// wait ends defers the delivery until its lease would end: waiting is not
// failing.
func (b *Builder) awaitHolder(ctx context.Context, key string, rec state.Idem) (state.Idem, bool, error) {
	end := time.Now().Add(b.DuplicateWait)
	if d, ok := ctx.Deadline(); ok {
		// Leave the handler time to answer before its deadline.
		if margin := d.Add(-time.Until(d) / 10); margin.Before(end) {
			end = margin
		}
	}
	poll := min(max(b.Lease/10, 50*time.Millisecond), 2*time.Second)
	for rec.Status != state.Completed {
		now := time.Now()
		if !now.Before(end) {
			wait := max(time.Until(rec.ExpiresAt), time.Second)
			// A deferral, not a failure: a delivery that keeps finding a
			// live holder (or a killed one whose lease has not lapsed yet)
			// must never be dead-lettered for waiting.
			return rec, false, retry.Defer(fmt.Errorf("%w until %s: waiting", ErrClaimHeld, rec.ExpiresAt.UTC().Format(time.RFC3339)), wait)
		}
		// Wake at the poll, at the holder's expiry or at the wait's end,
		// whichever comes first.
		nap := min(poll, end.Sub(now), max(rec.ExpiresAt.Sub(now), time.Millisecond))
		t := time.NewTimer(nap)
		select {
		case <-ctx.Done():
			t.Stop()
			return rec, false, ctx.Err()
		case <-t.C:
		}
		var claimed bool
		var err error
		if rec, claimed, err = b.Idem.Claim(ctx, key, b.Lease); err != nil || claimed {
			return rec, claimed, err
		}
	}
	return rec, false, nil
}

// heartbeat renews held every third of the lease until stop is called. If
// the claim is found taken over, the returned context is cancelled and
// stop returns ErrClaimLost. A renewal that fails for another reason is
// retried at the next beat: the lease outlasts two missed beats.
func (b *Builder) heartbeat(ctx context.Context, held state.Idem, log *slog.Logger) (context.Context, func() error) {
	hctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		beat := time.NewTicker(b.Lease / 3)
		defer beat.Stop()
		for {
			select {
			case <-done:
				return
			case <-hctx.Done():
				return
			case <-beat.C:
			}
			rctx, rcancel := context.WithTimeout(hctx, b.Lease/3)
			rec, err := b.Idem.Renew(rctx, held, b.Lease)
			rcancel()
			switch {
			case err == nil:
				held = rec
			case errors.Is(err, state.ErrConflict):
				log.WarnContext(ctx, "build claim taken over: stopping this build", "key", held.Key)
				cancel(fmt.Errorf("%w: %s", ErrClaimLost, held.Key))
				return
			default:
				log.WarnContext(ctx, "renewing build claim", "key", held.Key, "error", err.Error())
			}
		}
	}()
	return hctx, func() error {
		close(done)
		wg.Wait()
		cause := context.Cause(hctx)
		cancel(nil)
		if errors.Is(cause, ErrClaimLost) {
			return cause
		}
		return nil
	}
}
