package build_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/conveyor-gitops/conveyor/shared/poller"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
)

// leaseFixture is one app, a registry that can hold manifest PUTs, the
// embedded state store and a builds queue with the topology's receive
// budget, consumed through the local runtime's mapping.
type leaseFixture struct {
	store   *sqlitestate.Store
	broker  *sqlitequeue.Broker
	builds  *sqlitequeue.Queue
	cfg     *config.Config
	appDir  string
	sha     string
	puts    atomic.Int32 // manifest PUTs: one per build
	hold    chan struct{}
	holding atomic.Bool
	retries atomic.Int32 // messages the mapping put back to retry
}

// retryCounter counts the mapping's "will retry" warnings.
type retryCounter struct {
	slog.Handler
	n *atomic.Int32
}

func (c retryCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c retryCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "will retry") {
		c.n.Add(1)
	}
	return nil
}
func (c retryCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c retryCounter) WithGroup(string) slog.Handler      { return c }

const testLease = time.Second

func newLeaseFixture(t *testing.T) *leaseFixture {
	t.Helper()
	ctx := context.Background()
	f := &leaseFixture{hold: make(chan struct{})}
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if f.store, err = sqlitestate.Open(ctx, db); err != nil {
		t.Fatal(err)
	}
	spec, _ := queue.Lookup(queue.Builds)
	if f.broker, err = sqlitequeue.Open(ctx, db, []queue.Spec{spec}); err != nil {
		t.Fatal(err)
	}
	f.builds, _ = f.broker.Queue(queue.Builds)

	reg, err := ociregistry.Open(t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The image's push, to its sha-<12> tag; its attestations go by
		// digest and to sha256-<hex> tags.
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha-") {
			f.puts.Add(1)
			if f.holding.Load() {
				<-f.hold
			}
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(rs.Close)
	t.Cleanup(f.release)
	appDir := filepath.Join(t.TempDir(), "app")
	f.appDir = appDir
	f.sha = commitRepo(t, appDir)("hello\n")
	if f.cfg, err = config.Parse("conveyor.yaml", []byte(fmt.Sprintf(`version: 1
apps:
  - name: web
    source: {repo: %s, branch: main}
    image: %s/acme/web
    environments:
      - {name: dev, path: envs/dev, release: auto}
`, appDir, strings.TrimPrefix(rs.URL, "http://")))); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *leaseFixture) release() {
	if f.holding.CompareAndSwap(true, false) {
		close(f.hold)
	}
}

// consumer is one process of the build function: its own builder and
// mapping over the shared queue and store.
func (f *leaseFixture) consumer(t *testing.T, ctx context.Context) {
	t.Helper()
	b := &build.Builder{Config: func(context.Context) (*config.Config, error) { return f.cfg, nil }, Idem: f.store,
		TempDir: t.TempDir(), Log: slog.New(slog.DiscardHandler), Lease: testLease}
	m := &poller.Poller{Function: "build", Queue: f.builds, BatchSize: 1, Visibility: time.Minute, PollInterval: 20 * time.Millisecond,
		Consumer: consume.Consumer{Fn: b.Func(), Log: slog.New(slog.DiscardHandler),
			Policy: poller.Policy(5, retry.Backoff{Base: 100 * time.Millisecond, Max: time.Second})},
		Logger: slog.New(retryCounter{slog.DiscardHandler, &f.retries})}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = m.Run(ctx) }()
	t.Cleanup(wg.Wait)
}

func (f *leaseFixture) send(t *testing.T, delivery string) {
	t.Helper()
	p := event.Push{Repository: "acme/web", CloneURL: "file://" + f.appDir, Ref: "refs/heads/main", Branch: "main", After: f.sha}
	env, err := event.New(event.KindPush, "github", delivery, "trace-"+delivery, p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queue.SendEnvelope(context.Background(), f.builds, env, "", "", "web"); err != nil {
		t.Fatal(err)
	}
}

// waitSettled waits until the builds queue holds nothing and returns its
// counters.
func (f *leaseFixture) waitSettled(t *testing.T, limit time.Duration) sqlitequeue.Stats {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		st, err := f.broker.Stats(context.Background(), queue.Builds)
		if err != nil {
			t.Fatal(err)
		}
		if st.Visible+st.InFlight+st.Delayed == 0 || time.Now().After(deadline) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *leaseFixture) built(t *testing.T) state.Idem {
	t.Helper()
	rec, err := f.store.Get(context.Background(), build.Key("web", f.sha))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestKilledBuildIsTakenOverWithinOneLease: a build killed mid-way leaves
// its claim behind, unrenewed. The redelivery waits in place and takes it
// over as soon as the lease lapses — it neither fails nor spends a receive
// of the retry budget — and builds the commit.
func TestKilledBuildIsTakenOverWithinOneLease(t *testing.T) {
	f := newLeaseFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The killed build's claim, just taken: it runs a whole lease.
	if _, claimed, err := f.store.Claim(ctx, build.Key("web", f.sha), testLease); err != nil || !claimed {
		t.Fatalf("seeding the killed build's claim: claimed=%v err=%v", claimed, err)
	}
	start := time.Now()
	f.send(t, "redelivered")
	f.consumer(t, ctx)
	st := f.waitSettled(t, 20*time.Second)
	took := time.Since(start)
	if st.Dead != 0 || st.Visible+st.InFlight+st.Delayed != 0 {
		t.Fatalf("builds queue after the takeover: %+v, want empty with no dead letters", st)
	}
	if rec := f.built(t); rec.Status != state.Completed {
		t.Fatalf("build record %+v, want completed", rec)
	}
	if n := f.puts.Load(); n != 1 {
		t.Fatalf("%d manifest pushes, want 1", n)
	}
	if n := f.retries.Load(); n != 0 {
		t.Fatalf("the redelivery failed %d time(s) before the takeover, want 0: it waits for the lease", n)
	}
	// One lease, plus the build itself and a loaded machine's slack — far
	// below the visibility timeout (a minute) that a redelivery refused
	// while the claim was held would wait before its next receive.
	if limit := testLease + 10*time.Second; took > limit {
		t.Fatalf("the takeover took %v, want within one lease (%v) and the build, not a visibility timeout", took, testLease)
	}
}

// TestConcurrentDuplicateWaitsForTheBuild: two processes receive two
// deliveries of one commit. The build that claims it runs for three leases
// (its manifest push is held), renewing its claim, so the other never
// takes it over: it waits, then ends "already built". One build, no dead
// letter.
func TestConcurrentDuplicateWaitsForTheBuild(t *testing.T) {
	f := newLeaseFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.holding.Store(true)
	f.send(t, "first")
	f.send(t, "second")
	f.consumer(t, ctx)
	f.consumer(t, ctx)
	time.Sleep(3 * testLease)
	if n := f.puts.Load(); n != 1 {
		t.Fatalf("%d builds reached the push while the first was held, want 1: the claim was taken over", n)
	}
	f.release()
	st := f.waitSettled(t, 20*time.Second)
	if st.Dead != 0 || st.Visible+st.InFlight+st.Delayed != 0 {
		dead, _ := f.broker.DeadLetters(context.Background(), queue.Builds)
		t.Fatalf("builds queue: %+v, want empty with no dead letters; dead: %+v", st, dead)
	}
	if n := f.puts.Load(); n != 1 {
		t.Fatalf("%d manifest pushes, want 1 build", n)
	}
	if rec := f.built(t); rec.Status != state.Completed {
		t.Fatalf("build record %+v, want completed", rec)
	}
}
