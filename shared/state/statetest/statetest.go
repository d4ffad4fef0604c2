// Package statetest is the contract every adapter of the state port must
// pass.
package statetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Harness creates a fresh store for one test and controls its clock.
type Harness struct {
	New     func(t *testing.T) state.Store
	Advance func(d time.Duration)
}

// Run runs the contract against h.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("claim once", func(t *testing.T) {
		s := h.New(t)
		if _, claimed, err := s.Claim(ctx, "delivery:1", time.Minute); err != nil || !claimed {
			t.Fatalf("first claim: claimed=%v err=%v, want true", claimed, err)
		}
		rec, claimed, err := s.Claim(ctx, "delivery:1", time.Minute)
		if err != nil || claimed || rec.Status != state.InProgress {
			t.Fatalf("second claim: claimed=%v status=%q err=%v, want false in_progress", claimed, rec.Status, err)
		}
	})

	t.Run("completed result replays", func(t *testing.T) {
		s := h.New(t)
		mustClaim(t, s, "k")
		if err := s.Complete(ctx, "k", []byte(`{"pr":7}`), time.Hour); err != nil {
			t.Fatal(err)
		}
		rec, claimed, err := s.Claim(ctx, "k", time.Minute)
		if err != nil || claimed || rec.Status != state.Completed || string(rec.Result) != `{"pr":7}` {
			t.Fatalf("claim after complete: %+v claimed=%v err=%v", rec, claimed, err)
		}
		if err := s.Release(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if _, claimed, _ := s.Claim(ctx, "k", time.Minute); claimed {
			t.Fatal("Release removed a completed record")
		}
	})

	t.Run("stale in-progress claim expires", func(t *testing.T) {
		s := h.New(t)
		mustClaim(t, s, "k")
		h.Advance(2 * time.Minute)
		if _, claimed, err := s.Claim(ctx, "k", time.Minute); err != nil || !claimed {
			t.Fatalf("claim after the lease expired: claimed=%v err=%v, want true", claimed, err)
		}
	})

	t.Run("release frees a claim", func(t *testing.T) {
		s := h.New(t)
		mustClaim(t, s, "k")
		if err := s.Release(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		mustClaim(t, s, "k")
	})

	t.Run("completed record expires after retention", func(t *testing.T) {
		s := h.New(t)
		mustClaim(t, s, "k")
		if err := s.Complete(ctx, "k", nil, time.Hour); err != nil {
			t.Fatal(err)
		}
		h.Advance(2 * time.Hour)
		mustClaim(t, s, "k")
	})

	t.Run("renew extends the held claim", func(t *testing.T) {
		s := h.New(t)
		held, claimed, err := s.Claim(ctx, "build/web/abc", time.Minute)
		if err != nil || !claimed {
			t.Fatalf("claim: claimed=%v err=%v", claimed, err)
		}
		// Renewed twice, each before its lease runs out, the claim lives
		// past its first lease: a duplicate still cannot take it.
		for i := 0; i < 2; i++ {
			h.Advance(40 * time.Second)
			if held, err = s.Renew(ctx, held, time.Minute); err != nil {
				t.Fatalf("renew %d: %v", i+1, err)
			}
		}
		rec, claimed, err := s.Claim(ctx, "build/web/abc", time.Minute)
		if err != nil || claimed || rec.Status != state.InProgress {
			t.Fatalf("claim of a renewed key: %+v claimed=%v err=%v, want it held", rec, claimed, err)
		}
		if got := rec.ExpiresAt.UnixMilli(); got != held.ExpiresAt.UnixMilli() {
			t.Fatalf("stored expiry %v, want the renewed %v", rec.ExpiresAt, held.ExpiresAt)
		}
		got, err := s.Get(ctx, "build/web/abc")
		if err != nil || got.Status != state.InProgress || got.ExpiresAt.UnixMilli() != held.ExpiresAt.UnixMilli() {
			t.Fatalf("Get: %+v (%v), want the renewed claim", got, err)
		}
	})

	t.Run("renew of a claim taken over, completed or released conflicts", func(t *testing.T) {
		s := h.New(t)
		for _, tc := range []struct {
			name  string
			after func(t *testing.T, key string)
		}{
			{"taken over", func(t *testing.T, key string) {
				h.Advance(2 * time.Minute)
				mustClaim(t, s, key)
			}},
			{"completed", func(t *testing.T, key string) {
				if err := s.Complete(ctx, key, []byte("done"), time.Hour); err != nil {
					t.Fatal(err)
				}
			}},
			{"released", func(t *testing.T, key string) {
				if err := s.Release(ctx, key); err != nil {
					t.Fatal(err)
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				key := "renew/" + tc.name
				held, claimed, err := s.Claim(ctx, key, time.Minute)
				if err != nil || !claimed {
					t.Fatalf("claim: claimed=%v err=%v", claimed, err)
				}
				tc.after(t, key)
				before, _ := s.Get(ctx, key)
				if _, err := s.Renew(ctx, held, time.Hour); !errors.Is(err, state.ErrConflict) {
					t.Fatalf("renew after the claim was %s: %v, want ErrConflict", tc.name, err)
				}
				after, err := s.Get(ctx, key)
				if tc.name == "released" {
					if !errors.Is(err, state.ErrNotFound) {
						t.Fatalf("Get of a released key: %+v (%v), want ErrNotFound", after, err)
					}
					return
				}
				if err != nil || after.Status != before.Status || !after.ExpiresAt.Equal(before.ExpiresAt) {
					t.Fatalf("the failed renew changed the record: %+v (%v)", after, err)
				}
			})
		}
	})

	t.Run("get", func(t *testing.T) {
		s := h.New(t)
		if _, err := s.Get(ctx, "nope"); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
		}
		mustClaim(t, s, "k")
		if err := s.Complete(ctx, "k", []byte(`{"digest":"sha256:aa"}`), time.Hour); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "k")
		if err != nil || got.Key != "k" || got.Status != state.Completed || string(got.Result) != `{"digest":"sha256:aa"}` {
			t.Fatalf("Get: %+v (%v)", got, err)
		}
	})

	t.Run("releases with optimistic concurrency", func(t *testing.T) {
		s := h.New(t)
		src := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
		r := state.Release{ID: "web/dev/sha256:aa", App: "web", Env: "dev", Image: "reg/web", Digest: "sha256:aa",
			SourceRepo: "acme/web", SourceCommit: "abc", SourceTime: src, State: state.Proposed, PR: 3, HeadSHA: "h1", TraceID: "t1"}
		if err := s.PutRelease(ctx, &r); err != nil {
			t.Fatal(err)
		}
		if r.Version != 1 {
			t.Fatalf("version after create = %d, want 1", r.Version)
		}
		dup := r
		dup.Version = 0
		if err := s.PutRelease(ctx, &dup); !errors.Is(err, state.ErrConflict) {
			t.Fatalf("second create: %v, want ErrConflict", err)
		}
		stale := r
		r.State, r.MergedBy, r.HeadSHA = state.Merged, "alice", "h2"
		r.ApprovedBy, r.Override = []string{"bob", "carol"}, "hotfix: the approvers are asleep"
		if err := s.PutRelease(ctx, &r); err != nil {
			t.Fatal(err)
		}
		stale.State = state.Rejected
		if err := s.PutRelease(ctx, &stale); !errors.Is(err, state.ErrConflict) {
			t.Fatalf("stale update: %v, want ErrConflict", err)
		}
		got, err := s.GetRelease(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("GetRelease (-want +got):\n%s", diff)
		}
		if _, err := s.GetRelease(ctx, "nope"); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("missing release: %v, want ErrNotFound", err)
		}
	})

	t.Run("list filters", func(t *testing.T) {
		s := h.New(t)
		for _, r := range []state.Release{
			{ID: "web/dev/a", App: "web", Env: "dev", Digest: "a", State: state.Merged},
			{ID: "web/prod/a", App: "web", Env: "prod", Digest: "a", State: state.Proposed},
			{ID: "api/dev/b", App: "api", Env: "dev", Digest: "b", State: state.Merged},
		} {
			h.Advance(time.Second)
			if err := s.PutRelease(ctx, &r); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			f    state.ReleaseFilter
			want []string
		}{
			{state.ReleaseFilter{}, []string{"web/dev/a", "web/prod/a", "api/dev/b"}},
			{state.ReleaseFilter{App: "web"}, []string{"web/dev/a", "web/prod/a"}},
			{state.ReleaseFilter{Env: "dev", State: state.Merged}, []string{"web/dev/a", "api/dev/b"}},
			{state.ReleaseFilter{Newest: 2}, []string{"web/prod/a", "api/dev/b"}},
			{state.ReleaseFilter{App: "web", Newest: 1}, []string{"web/prod/a"}},
		} {
			CheckList(ctx, t, s, tc.f, tc.want)
		}
	})

	t.Run("list by pull request", func(t *testing.T) {
		s := h.New(t)
		// #3 proposed two digests in place; #30 shares its digits; the
		// promoter writes a release before it opens its pull request.
		rs := []state.Release{
			{ID: "web/prod/a", App: "web", Env: "prod", Digest: "a", State: state.Superseded, PR: 3},
			{ID: "web/dev/a", App: "web", Env: "dev", Digest: "a", State: state.Merged},
			{ID: "api/prod/b", App: "api", Env: "prod", Digest: "b", State: state.Proposed},
			{ID: "web/prod/b", App: "web", Env: "prod", Digest: "b", State: state.Proposed, PR: 3},
			{ID: "web/staging/a", App: "web", Env: "staging", Digest: "a", State: state.Merged, PR: 30},
		}
		for i := range rs {
			h.Advance(time.Second)
			if err := s.PutRelease(ctx, &rs[i]); err != nil {
				t.Fatal(err)
			}
		}
		h.Advance(time.Second)
		rs[2].PR = 4
		if err := s.PutRelease(ctx, &rs[2]); err != nil {
			t.Fatal(err)
		}
		// The older proposal of #3 changes last.
		h.Advance(time.Second)
		rs[0].Note = "replaced in place"
		if err := s.PutRelease(ctx, &rs[0]); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			f    state.ReleaseFilter
			want []string
		}{
			{state.ReleaseFilter{PR: 3}, []string{"web/prod/a", "web/prod/b"}},
			{state.ReleaseFilter{PR: 4}, []string{"api/prod/b"}},
			{state.ReleaseFilter{PR: 9}, nil},
			{state.ReleaseFilter{PR: 3, State: state.Proposed}, []string{"web/prod/b"}},
			{state.ReleaseFilter{PR: 3, App: "web", Env: "prod"}, []string{"web/prod/a", "web/prod/b"}},
			{state.ReleaseFilter{PR: 3, App: "api"}, nil},
			{state.ReleaseFilter{PR: 3, Env: "dev"}, nil},
			{state.ReleaseFilter{PR: 3, Newest: 1}, []string{"web/prod/b"}},
			{state.ReleaseFilter{PR: 3, Newest: 1, ByUpdate: true}, []string{"web/prod/a"}},
			{state.ReleaseFilter{PR: 3, UpdatedSince: rs[0].UpdatedAt}, []string{"web/prod/a"}},
		} {
			CheckList(ctx, t, s, tc.f, tc.want)
		}
	})

	t.Run("newest of an app and environment", func(t *testing.T) {
		s := h.New(t)
		// More than a page of the DynamoDB query, with the merged ones
		// spread out, so the newest are found past filtered pages.
		var merged []string
		for i := range 40 {
			r := state.Release{ID: fmt.Sprintf("web/dev/%02d", i), App: "web", Env: "dev", Digest: "d", State: state.Superseded}
			if i%9 == 0 {
				r.State = state.Merged
				merged = append(merged, r.ID)
			}
			h.Advance(time.Second)
			if err := s.PutRelease(ctx, &r); err != nil {
				t.Fatal(err)
			}
			other := state.Release{ID: fmt.Sprintf("web/prod/%02d", i), App: "web", Env: "prod", Digest: "d", State: state.Merged}
			if err := s.PutRelease(ctx, &other); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			f    state.ReleaseFilter
			want []string
		}{
			{state.ReleaseFilter{App: "web", Env: "dev", Newest: 3}, []string{"web/dev/37", "web/dev/38", "web/dev/39"}},
			{state.ReleaseFilter{App: "web", Env: "dev", State: state.Merged, Newest: 2}, merged[len(merged)-2:]},
			{state.ReleaseFilter{App: "web", Env: "dev", State: state.Merged, Newest: 100}, merged},
		} {
			CheckList(ctx, t, s, tc.f, tc.want)
		}
	})

	t.Run("dead letters", func(t *testing.T) { runDeadLetters(t, h) })

	t.Run("newest by update", func(t *testing.T) {
		s := h.New(t)
		var rs []state.Release
		for _, id := range []string{"web/dev/a", "web/dev/b", "api/dev/c"} {
			h.Advance(time.Second)
			r := state.Release{ID: id, App: strings.Split(id, "/")[0], Env: "dev", Digest: "d", State: state.Proposed}
			if err := s.PutRelease(ctx, &r); err != nil {
				t.Fatal(err)
			}
			rs = append(rs, r)
		}
		// The oldest record changes last: it comes last by update.
		h.Advance(time.Second)
		rs[0].State = state.Merged
		if err := s.PutRelease(ctx, &rs[0]); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListReleases(ctx, state.ReleaseFilter{Newest: 2, ByUpdate: true})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID)
		}
		if diff := cmp.Diff([]string{"api/dev/c", "web/dev/a"}, ids); diff != "" {
			t.Errorf("newest 2 by update (-want +got):\n%s", diff)
		}
		got, err = s.ListReleases(ctx, state.ReleaseFilter{UpdatedSince: rs[0].UpdatedAt})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != "web/dev/a" {
			t.Errorf("updated since the last write: %+v, want web/dev/a alone", got)
		}
		got, err = s.ListReleases(ctx, state.ReleaseFilter{UpdatedSince: rs[2].UpdatedAt, App: "api"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != "api/dev/c" {
			t.Errorf("api updated since its write: %+v, want api/dev/c", got)
		}
	})

	t.Run("latest with optimistic concurrency", func(t *testing.T) {
		s := h.New(t)
		if _, err := s.GetLatest(ctx, "web/dev"); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("missing latest: %v, want ErrNotFound", err)
		}
		src := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
		l := state.Latest{Key: "web/dev", Work: "sha256:aa", SourceRepo: "acme/web", Revision: "abc", SourceTime: src, Due: src.Add(time.Minute)}
		if err := s.PutLatest(ctx, &l); err != nil {
			t.Fatal(err)
		}
		if l.Version != 1 || l.UpdatedAt.IsZero() {
			t.Fatalf("after create: version %d, updated %v; want 1 and a time", l.Version, l.UpdatedAt)
		}
		rival := state.Latest{Key: "web/dev", Work: "sha256:bb"}
		if err := s.PutLatest(ctx, &rival); !errors.Is(err, state.ErrConflict) {
			t.Fatalf("second create: %v, want ErrConflict", err)
		}
		stale := l
		l.Work, l.Revision, l.Done = "sha256:cc", "def", true
		if err := s.PutLatest(ctx, &l); err != nil {
			t.Fatal(err)
		}
		stale.Work = "sha256:bb"
		if err := s.PutLatest(ctx, &stale); !errors.Is(err, state.ErrConflict) {
			t.Fatalf("stale update: %v, want ErrConflict", err)
		}
		got, err := s.GetLatest(ctx, "web/dev")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(l, got, cmpopts.EquateApproxTime(time.Millisecond)); diff != "" {
			t.Errorf("GetLatest (-want +got):\n%s", diff)
		}
	})
}

// runDeadLetters checks the dead-letter records of s: put replaces, list
// orders by queue then age and drops expired records, delete forgets.
func runDeadLetters(t *testing.T, h Harness) {
	ctx := context.Background()
	s, ok := h.New(t).(state.DeadLetters)
	if !ok {
		t.Fatal("the store does not keep dead-letter records (state.DeadLetters)")
	}
	if got, err := s.ListDeadLetters(ctx, ""); err != nil || len(got) != 0 {
		t.Fatalf("empty store lists %d records (%v)", len(got), err)
	}
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	big := make([]byte, state.MaxDeadLetterBody+10)
	body, size := state.CutBody(big)
	records := []state.DeadLetter{
		{Queue: "promotions", ID: "m2", Body: []byte(`{"v":1}`), BodySize: 7, Attributes: map[string]string{"kind": "promotion", "app": "web"},
			Reason: "wrong envelope kind", ReceiveCount: 1, SentAt: t0, DeadAt: t0.Add(2 * time.Second)},
		{Queue: "builds", ID: "m1", Body: []byte("not json"), BodySize: 8, Reason: "first", ReceiveCount: 1, SentAt: t0, DeadAt: t0.Add(time.Second)},
		{Queue: "promotions", ID: "m3", Body: body, BodySize: size, Reason: "received 5 times (max 5)", ReceiveCount: 5, DeadAt: t0},
	}
	for _, d := range records {
		if err := s.PutDeadLetter(ctx, d, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// A second put of the same message replaces the first.
	records[1].Reason = "second"
	if err := s.PutDeadLetter(ctx, records[1], time.Hour); err != nil {
		t.Fatal(err)
	}
	ids := func(q string) []string {
		t.Helper()
		got, err := s.ListDeadLetters(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range got {
			out = append(out, d.Queue+"/"+d.ID)
		}
		return out
	}
	if diff := cmp.Diff([]string{"builds/m1", "promotions/m3", "promotions/m2"}, ids("")); diff != "" {
		t.Errorf("ListDeadLetters(\"\") (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"promotions/m3", "promotions/m2"}, ids("promotions")); diff != "" {
		t.Errorf("ListDeadLetters(promotions) (-want +got):\n%s", diff)
	}
	got, err := s.ListDeadLetters(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []state.DeadLetter{records[1], records[2], records[0]}
	if diff := cmp.Diff(want, got, cmpopts.EquateApproxTime(time.Millisecond), cmpopts.IgnoreFields(state.DeadLetter{}, "ExpiresAt"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if len(got[1].Body) != state.MaxDeadLetterBody || got[1].BodySize != state.MaxDeadLetterBody+10 {
		t.Errorf("a cut body reads %d bytes of %d", len(got[1].Body), got[1].BodySize)
	}
	for _, d := range got {
		if d.ExpiresAt.IsZero() {
			t.Errorf("%s/%s has no expiry", d.Queue, d.ID)
		}
	}
	if err := s.DeleteDeadLetter(ctx, "builds", "m1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDeadLetter(ctx, "builds", "m1"); err != nil {
		t.Fatalf("deleting a missing record: %v", err)
	}
	if diff := cmp.Diff([]string{"promotions/m3", "promotions/m2"}, ids("")); diff != "" {
		t.Errorf("after delete (-want +got):\n%s", diff)
	}
	// Records expire with the dead-letter queue's retention.
	if err := s.PutDeadLetter(ctx, state.DeadLetter{Queue: "images", ID: "m4", Reason: "r", DeadAt: t0}, 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	h.Advance(2 * time.Hour)
	if diff := cmp.Diff([]string{"images/m4"}, ids("")); diff != "" {
		t.Errorf("after an hour past the others' retention (-want +got):\n%s", diff)
	}
}

func mustClaim(t *testing.T, s state.Store, key string) {
	t.Helper()
	if _, claimed, err := s.Claim(context.Background(), key, time.Minute); err != nil || !claimed {
		t.Fatalf("claiming %s: claimed=%v err=%v", key, claimed, err)
	}
}

// CheckList fails t unless s lists, for f, the releases with the ids
// want, in that order.
func CheckList(ctx context.Context, t testing.TB, s state.Releases, f state.ReleaseFilter, want []string) {
	t.Helper()
	rs, err := s.ListReleases(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("ListReleases(%+v) (-want +got):\n%s", f, diff)
	}
}
