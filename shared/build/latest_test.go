package build_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/poller"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// TestLatestOnly: five pushes to one branch queued together build five
// images, or — with build.latestOnly — one, of the newest commit; each
// older build is recorded superseded by it, and nothing dead-letters.
func TestLatestOnly(t *testing.T) {
	for _, tc := range []struct {
		latestOnly bool
		builds     int
	}{
		{false, 5},
		{true, 1},
	} {
		t.Run(fmt.Sprintf("latestOnly=%v", tc.latestOnly), func(t *testing.T) {
			f := newLeaseFixture(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dir := filepath.Join(t.TempDir(), "app")
			commit := commitRepo(t, dir)
			var shas []string
			for i := range 5 {
				shas = append(shas, commit(fmt.Sprintf("version %d\n", i)))
			}
			c := *f.cfg
			c.Apps = append([]config.App(nil), f.cfg.Apps...)
			c.Apps[0].Source.Repo = dir
			c.Apps[0].Build.LatestOnly = tc.latestOnly
			for i, sha := range shas {
				p := event.Push{Repository: "acme/web", CloneURL: "file://" + dir, Ref: "refs/heads/main", Branch: "main", After: sha}
				env, err := event.New(event.KindPush, "github", fmt.Sprint("d", i), "", p, time.Now().Add(time.Duration(i)*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := queue.SendEnvelope(ctx, f.builds, env, "", "", "web"); err != nil {
					t.Fatal(err)
				}
			}
			b := &build.Builder{Config: func(context.Context) (*config.Config, error) { return &c, nil }, Idem: f.store, Latest: f.store,
				TempDir: t.TempDir(), Log: slog.New(slog.DiscardHandler), Lease: testLease, LatestOnlyWait: 300 * time.Millisecond}
			m := &poller.Poller{Function: "build", Queue: f.builds, BatchSize: 1, Visibility: time.Minute, PollInterval: 20 * time.Millisecond,
				Consumer: consume.Consumer{Fn: b.Func(), Log: slog.New(slog.DiscardHandler), Policy: poller.Policy(5, retry.DefaultBackoff)},
				Logger:   slog.New(slog.DiscardHandler)}
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); _ = m.Run(ctx) }()
			defer wg.Wait()
			st := f.waitSettled(t, 60*time.Second)
			cancel()
			ctx = context.Background()
			if st.Dead != 0 || st.Visible+st.InFlight+st.Delayed != 0 {
				t.Fatalf("builds queue %+v, want empty with no dead letters", st)
			}
			if n := int(f.puts.Load()); n != tc.builds {
				t.Fatalf("%d images pushed, want %d", n, tc.builds)
			}
			newest := shas[len(shas)-1]
			rec, err := f.store.Get(ctx, build.Key("web", newest))
			if err != nil || rec.Status != state.Completed {
				t.Fatalf("newest commit's build: %+v (%v), want completed", rec, err)
			}
			// The record carries the commit's author and subject, read
			// from the clone, for a board that cannot read the source.
			var built build.Built
			if err := json.Unmarshal(rec.Result, &built); err != nil || built.Author != "Demo Developer" || built.Subject != "change" {
				t.Errorf("newest build record %+v (%v), want author Demo Developer and subject change", built, err)
			}
			for _, sha := range shas[:len(shas)-1] {
				rec, err := f.store.Get(ctx, build.SupersededKey("web", sha))
				if !tc.latestOnly {
					if err == nil {
						t.Errorf("build of %.7s recorded superseded without latestOnly", sha)
					}
					continue
				}
				var s build.Superseded
				if err != nil || json.Unmarshal(rec.Result, &s) != nil || s.By != newest {
					t.Errorf("build of %.7s: superseded record %+v (%v), want superseded by %.7s", sha, s, err, newest)
				}
			}
		})
	}
}
