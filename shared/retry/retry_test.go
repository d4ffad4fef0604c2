package retry

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	base := errors.New("boom")
	perm := fmt.Errorf("building web: %w", Permanent(base))
	if !IsPermanent(perm) || !errors.Is(perm, base) {
		t.Fatalf("wrapped permanent error lost its class or cause: %v", perm)
	}
	if IsPermanent(base) || IsPermanent(nil) || Permanent(nil) != nil {
		t.Fatal("plain or nil errors classified as permanent")
	}
	ra := fmt.Errorf("creating PR: %w", After(base, 42*time.Second))
	if d, ok := RetryAfter(ra); !ok || d != 42*time.Second {
		t.Fatalf("RetryAfter = %v %v, want 42s", d, ok)
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Base: time.Second, Max: 8 * time.Second}
	for _, tc := range []struct {
		n        int
		err      error
		min, max time.Duration
	}{
		{1, nil, 500 * time.Millisecond, time.Second},
		{2, nil, time.Second, 2 * time.Second},
		{4, nil, 4 * time.Second, 8 * time.Second},
		{10, nil, 4 * time.Second, 8 * time.Second},
		{1, After(errors.New("429"), 30*time.Second), 30 * time.Second, 30 * time.Second},
	} {
		for i := 0; i < 50; i++ {
			if d := b.Delay(tc.n, tc.err); d < tc.min || d > tc.max {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", tc.n, d, tc.min, tc.max)
			}
		}
	}
}
