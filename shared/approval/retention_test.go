package approval_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMergeProtectsReleases: each merge protects the environment's
// current release and the previous ones (newest first); a failure to
// protect is logged and does not hold the merge's onward promotion.
func TestMergeProtectsReleases(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var calls []string
	fail := false
	f.a.KeepPrevious = 1
	f.a.Protect = func(_ context.Context, image, env string, digests []string) error {
		if fail {
			return errors.New("registry down")
		}
		calls = append(calls, image+" "+env+" "+strings.Join(digests, ","))
		return nil
	}
	for _, n := range []int{1, 2, 3} {
		if _, err := f.p.Promote(ctx, promotion("web", "dev", n)); err != nil {
			t.Fatal(err)
		}
		if err := f.deliver(t); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		webImage + " dev " + digest(1),
		webImage + " dev " + digest(2) + "," + digest(1),
		webImage + " dev " + digest(3) + "," + digest(2),
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("protections (-want +got):\n%s", diff)
	}
	fail = true
	var logs strings.Builder
	f.a.Log = slog.New(slog.NewTextHandler(&logs, nil))
	merged := f.delivered[len(f.delivered)-1]
	if err := f.a.Handle(ctx, merged); err != nil || !strings.Contains(logs.String(), "protecting the releases of web/dev: registry down") {
		t.Errorf("a failed protection: %v, logs %s; want it logged and the event handled", err, logs.String())
	}
}
