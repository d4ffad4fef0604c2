package replay_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/replay"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/google/go-cmp/cmp"
)

// fixture is an embedded broker with Conveyor's queues and a settable clock.
type fixture struct {
	b    *sqlitequeue.Broker
	dead *replay.Embedded
	mu   sync.Mutex
	now  time.Time
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	db, err := sqlitedb.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if f.b, err = sqlitequeue.Open(context.Background(), db, queue.Topology, sqlitequeue.WithClock(f.clock)); err != nil {
		t.Fatal(err)
	}
	f.dead = replay.NewEmbedded(f.b)
	return f
}

// dead is one message to dead-letter.
type dead struct {
	queue, app, reason string
}

// envelope builds an envelope of the kind queue carries.
func envelope(t *testing.T, name, app string, now time.Time) (*event.Envelope, string) {
	t.Helper()
	var env *event.Envelope
	var err error
	group := ""
	switch name {
	case queue.Promotions:
		p := event.Promotion{App: app, Environment: "staging", Image: "ghcr.io/acme/" + app, Digest: "sha256:" + strings.Repeat("a", 64)}
		env, err = event.New(event.KindPromotion, "conveyor", "", "", p, now)
		group = p.GroupID()
	case queue.Builds:
		env, err = event.New(event.KindPush, "github", "d-1", "", event.Push{Repository: "acme/" + app, Ref: "refs/heads/main", After: "abc"}, now)
	default:
		env, err = event.New(event.KindReview, "github", "d-2", "", event.Review{Action: event.ReviewMerged, Repository: "acme/gitops", Number: 7}, now)
	}
	if err != nil {
		t.Fatal(err)
	}
	return env, group
}

// kill sends an envelope per d and dead-letters it at once; it returns the
// message ids and the envelopes by message id.
func (f *fixture) kill(t *testing.T, ds ...dead) ([]string, map[string]*event.Envelope) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	envs := map[string]*event.Envelope{}
	for _, d := range ds {
		q, err := f.b.Queue(d.queue)
		if err != nil {
			t.Fatal(err)
		}
		env, group := envelope(t, d.queue, d.app, f.clock())
		id, err := queue.SendEnvelope(ctx, q, env, group, "", d.app)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := q.Receive(ctx, 1, time.Minute)
		if err != nil || len(msgs) != 1 || msgs[0].ID != id {
			t.Fatalf("Receive = %+v, %v; want %s", msgs, err, id)
		}
		if err := q.DeadLetter(ctx, msgs[0].ReceiptHandle, d.reason); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		envs[id] = env
		f.advance(time.Minute)
	}
	return ids, envs
}

// deadIDs lists the ids still dead-lettered, sorted.
func deadIDs(t *testing.T, d replay.Dead) []string {
	t.Helper()
	recs, err := d.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	return ids
}

func sorted(ids ...string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}

func TestFilterMatch(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	env := &event.Envelope{ID: "env-1"}
	r := replay.Record{ID: "msg-1", Queue: "promotions", Kind: "promotion", App: "web", DeadAt: at,
		Reason: "Forge said 422: Validation Failed", Envelope: env}
	for _, tc := range []struct {
		name string
		f    replay.Filter
		want bool
	}{
		{"zero matches all", replay.Filter{}, true},
		{"queue", replay.Filter{Queue: "promotions"}, true},
		{"other queue", replay.Filter{Queue: "builds"}, false},
		{"kind any case", replay.Filter{Kind: "Promotion"}, true},
		{"other kind", replay.Filter{Kind: "push"}, false},
		{"app", replay.Filter{App: "web"}, true},
		{"other app", replay.Filter{App: "api"}, false},
		{"since before", replay.Filter{Since: at.Add(-time.Second)}, true},
		{"since equal", replay.Filter{Since: at}, true},
		{"since after", replay.Filter{Since: at.Add(time.Second)}, false},
		{"error substring any case", replay.Filter{Error: "validation failed"}, true},
		{"other error", replay.Filter{Error: "timeout"}, false},
		{"message id", replay.Filter{IDs: []string{"x", "msg-1"}}, true},
		{"envelope id", replay.Filter{IDs: []string{"env-1"}}, true},
		{"other id", replay.Filter{IDs: []string{"x"}}, false},
		{"all fields", replay.Filter{Queue: "promotions", Kind: "promotion", App: "web", Since: at, Error: "422", IDs: []string{"msg-1"}}, true},
		{"all but one", replay.Filter{Queue: "promotions", Kind: "promotion", App: "api", Since: at, Error: "422"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Match(r); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestListDecodesRecords(t *testing.T) {
	f := newFixture(t)
	ids, envs := f.kill(t, dead{queue.Promotions, "web", "forge said 422"}, dead{queue.Builds, "api", "Dockerfile:3: RUN is not supported"})
	recs, err := f.dead.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ ID, Queue, Kind, App, TraceID, Reason, EnvID string }
	var got []row
	for _, r := range recs {
		got = append(got, row{r.ID, r.Queue, r.Kind, r.App, r.TraceID, r.Reason, r.Envelope.ID})
	}
	want := []row{
		{ids[0], queue.Promotions, "promotion", "web", envs[ids[0]].TraceID, "forge said 422", envs[ids[0]].ID},
		{ids[1], queue.Builds, "push", "api", envs[ids[1]].TraceID, "Dockerfile:3: RUN is not supported", envs[ids[1]].ID},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records, oldest first (-want +got):\n%s", diff)
	}
}

func TestRedriveMovesExactlyTheMatches(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ids, _ := f.kill(t,
		dead{queue.Promotions, "web", "forge said 422"},
		dead{queue.Promotions, "api", "forge said 422"},
		dead{queue.Promotions, "web", "git push: connection reset"},
		dead{queue.Builds, "web", "forge said 422"},
	)
	s, err := replay.Redrive(ctx, f.dead, replay.Filter{Queue: queue.Promotions, App: "web", Error: "422"}, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(replay.Summary{Matched: 1, Moved: 1, IDs: []string{ids[0]}}, s); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sorted(ids[1], ids[2], ids[3]), deadIDs(t, f.dead)); diff != "" {
		t.Errorf("still dead (-want +got):\n%s", diff)
	}
	q, _ := f.b.Queue(queue.Promotions)
	msgs, _ := q.Receive(ctx, 10, time.Minute)
	if len(msgs) != 1 || msgs[0].ID != ids[0] {
		t.Fatalf("promotions queue holds %+v, want only %s", msgs, ids[0])
	}
}

func TestDryRunMovesNothing(t *testing.T) {
	f := newFixture(t)
	ids, _ := f.kill(t, dead{queue.Approvals, "", "boom"}, dead{queue.Approvals, "", "boom"}, dead{queue.Builds, "web", "boom"})
	s, err := replay.Redrive(context.Background(), f.dead, replay.Filter{Queue: queue.Approvals}, replay.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(replay.Summary{Matched: 2, DryRun: true, IDs: []string{ids[0], ids[1]}}, s); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sorted(ids...), deadIDs(t, f.dead)); diff != "" {
		t.Errorf("still dead (-want +got):\n%s", diff)
	}
}

func TestLimitAndRate(t *testing.T) {
	f := newFixture(t)
	var ds []dead
	for i := 0; i < 6; i++ {
		ds = append(ds, dead{queue.Builds, "web", "registry unreachable"})
	}
	ids, _ := f.kill(t, ds...)
	var progress [][2]int
	opts := replay.Options{Limit: 4, Rate: 20, Progress: func(done, total int) { progress = append(progress, [2]int{done, total}) }}
	began := time.Now()
	s, err := replay.Redrive(context.Background(), f.dead, replay.Filter{Queue: queue.Builds}, opts)
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	if s.Matched != 6 || s.Moved != 4 || s.Failed != 0 {
		t.Fatalf("summary %+v, want 6 matched and 4 moved", s)
	}
	// Oldest first: the limit keeps the newest dead.
	if diff := cmp.Diff(sorted(ids[4], ids[5]), deadIDs(t, f.dead)); diff != "" {
		t.Errorf("still dead (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][2]int{{1, 4}, {2, 4}, {3, 4}, {4, 4}}, progress); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	// 4 moves at 20/s are 3 gaps of 50 ms; measured loosely.
	if took < 120*time.Millisecond || took > 5*time.Second {
		t.Errorf("4 moves at 20/s took %v, want about 150 ms", took)
	}
}

func TestReplayedKeepsIdentity(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ids, envs := f.kill(t, dead{queue.Promotions, "web", "forge said 422"})
	if _, err := replay.Redrive(ctx, f.dead, replay.Filter{IDs: ids}, replay.Options{}); err != nil {
		t.Fatal(err)
	}
	q, _ := f.b.Queue(queue.Promotions)
	msgs, _ := q.Receive(ctx, 10, time.Minute)
	if len(msgs) != 1 {
		t.Fatalf("promotions queue holds %+v", msgs)
	}
	env, err := event.Decode(msgs[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	orig := envs[ids[0]]
	want := *orig
	want.Replayed = 1
	if diff := cmp.Diff(want, *env); diff != "" {
		t.Errorf("replayed envelope (-want +got):\n%s", diff)
	}
	if msgs[0].ID != ids[0] || msgs[0].Attributes[queue.AttrTraceID] != orig.TraceID || msgs[0].Attributes[sqlitequeue.AttrReplayed] != "1" {
		t.Errorf("replayed message %s attributes %v; want id %s, trace %s, replayed 1", msgs[0].ID, msgs[0].Attributes, ids[0], orig.TraceID)
	}
}

// snapshot is a Dead whose List returns what the embedded one listed
// earlier: another operator redrove in between.
type snapshot struct {
	*replay.Embedded
	recs []replay.Record
}

func (s snapshot) List(context.Context, string) ([]replay.Record, error) { return s.recs, nil }

func TestRedriveTwiceIsANoOp(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ids, _ := f.kill(t, dead{queue.Images, "", "no app publishes ghcr.io/acme/x"})
	before, err := f.dead.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	first, err := replay.Redrive(ctx, f.dead, replay.Filter{IDs: ids}, replay.Options{})
	if err != nil || first.Moved != 1 {
		t.Fatalf("first redrive: %+v, %v", first, err)
	}
	second, err := replay.Redrive(ctx, f.dead, replay.Filter{IDs: ids}, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(replay.Summary{}, second); diff != "" {
		t.Errorf("second redrive (-want +got):\n%s", diff)
	}
	// A stale listing finds the message gone: skipped, not failed.
	stale, err := replay.Redrive(ctx, snapshot{f.dead, before}, replay.Filter{IDs: ids}, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(replay.Summary{Matched: 1, Skipped: 1}, stale); diff != "" {
		t.Errorf("redrive from a stale listing (-want +got):\n%s", diff)
	}
	q, _ := f.b.Queue(queue.Images)
	if msgs, _ := q.Receive(ctx, 10, time.Minute); len(msgs) != 1 {
		t.Fatalf("images queue holds %d messages, want 1", len(msgs))
	}
}

func TestEmbeddedGetHistory(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ids, _ := f.kill(t, dead{queue.Builds, "web", "first failure"})
	if _, err := replay.Redrive(ctx, f.dead, replay.Filter{IDs: ids}, replay.Options{}); err != nil {
		t.Fatal(err)
	}
	q, _ := f.b.Queue(queue.Builds)
	msgs, _ := q.Receive(ctx, 1, time.Minute)
	if len(msgs) != 1 {
		t.Fatalf("builds queue holds %+v", msgs)
	}
	if err := q.DeadLetter(ctx, msgs[0].ReceiptHandle, "second failure"); err != nil {
		t.Fatal(err)
	}
	r, err := f.dead.Get(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.Reason != "second failure" || len(r.History) != 1 || r.History[0].Reason != "first failure" || r.Envelope.Replayed != 1 {
		t.Fatalf("Get = reason %q, history %+v, replayed %d", r.Reason, r.History, r.Envelope.Replayed)
	}
}
