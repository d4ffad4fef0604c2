package forge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// countingForge fails its first n Merge calls with err.
type countingForge struct {
	forge.Forge
	calls, failures int
	err             error
}

func (c *countingForge) Merge(context.Context, int, forge.MergeOptions) (string, error) {
	c.calls++
	if c.calls <= c.failures {
		return "", c.err
	}
	return "merge-sha", nil
}

func TestRetrying(t *testing.T) {
	fast := retry.Backoff{Base: time.Millisecond, Max: time.Millisecond}
	for _, tc := range []struct {
		name      string
		failures  int
		err       error
		wantCalls int
		wantErr   bool
	}{
		{"transient then success", 2, errors.New("502"), 3, false},
		{"transient beyond the attempts", 5, errors.New("502"), 3, true},
		{"permanent at once", 5, retry.Permanent(errors.New("422")), 1, true},
		{"long Retry-After goes back to the queue", 5, retry.After(errors.New("429"), time.Hour), 1, true},
		{"short Retry-After honoured in place", 1, retry.After(errors.New("429"), 2*time.Millisecond), 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &countingForge{failures: tc.failures, err: tc.err}
			r := &forge.Retrying{Forge: c, Backoff: fast}
			sha, err := r.Merge(context.Background(), 1, forge.MergeOptions{Method: forge.MergeMerge})
			if (err != nil) != tc.wantErr || c.calls != tc.wantCalls || (err == nil && sha != "merge-sha") {
				t.Fatalf("Merge = %q, %v after %d calls; want error=%v after %d", sha, err, c.calls, tc.wantErr, tc.wantCalls)
			}
		})
	}
}
