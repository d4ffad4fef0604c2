package notify

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/google/go-cmp/cmp"
)

func TestPromotionEvents(t *testing.T) {
	in := event.Promotion{App: "web", Environment: "prod", Digest: "sha256:abc"}
	pr := &forge.PR{Number: 7, URL: "https://forge.example/pr/7"}
	for _, tc := range []struct {
		name string
		out  *promote.Outcome
		err  error
		want []string // event key
	}{
		{"opened", &promote.Outcome{Action: promote.Opened, PR: pr}, nil,
			[]string{"opened web/prod/sha256:abc/opened/7", "waiting web/prod/sha256:abc/waiting/7"}},
		{"updated", &promote.Outcome{Action: promote.Updated, PR: pr}, nil,
			[]string{"updated web/prod/sha256:abc/updated/7", "waiting web/prod/sha256:abc/waiting/7"}},
		{"merged by policy: told by the merge's record", &promote.Outcome{Action: promote.Merged, PR: pr}, nil, nil},
		{"current", &promote.Outcome{Action: promote.Current}, nil, nil},
		{"deferred", &promote.Outcome{Action: promote.Deferred, Reason: "frozen until 2026-12-05T09:00:00Z"},
			retry.Defer(promote.ErrFrozen, time.Hour), []string{"deferred web/prod/sha256:abc/deferred/2026-12-05T09:00:00Z"}},
		{"refused", nil, retry.Permanent(errors.New("render check failed")), []string{"refused web/prod/sha256:abc/refused"}},
		{"transient failure: retried, not told", nil, errors.New("forge down"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, ev := range promotionEvents(in, tc.out, tc.err) {
				got = append(got, ev.Event+" "+ev.Key)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeadLetterEvent(t *testing.T) {
	p := event.Promotion{App: "web", Environment: "prod", Digest: "sha256:abc"}
	env, err := event.New(event.KindPromotion, "test", "", "trace-9", p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := env.Encode()
	got := deadLetterEvent(queue.Message{ID: "m1", Body: body}, queue.Promotions, "boom", "--stack prod-conveyor")
	want := Event{Event: "dead_lettered", Key: "dead/promotions/" + env.ID + "#0", App: "web", Environment: "prod", Digest: "sha256:abc",
		Reason: "boom", Queue: "promotions", Replay: fmt.Sprintf("conveyor replay redrive %s --stack prod-conveyor", env.ID), TraceID: "trace-9"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	// An undecodable body is still told, by its message id and attributes.
	got = deadLetterEvent(queue.Message{ID: "m2", Body: []byte("{"), Attributes: map[string]string{queue.AttrApp: "web"}}, queue.Builds, "malformed", "")
	if got.App != "web" || got.Key != "dead/builds/m2" || got.Replay != "conveyor replay redrive m2" {
		t.Errorf("undecodable: %+v", got)
	}
}
