package replay_test

import (
	"context"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/replay"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestRecorded: dead letters are listed from their records with their
// envelope decoded, as List from a queue would give them; a record written
// ahead of SQS's own redrive is not listed before that can happen.
func TestRecorded(t *testing.T) {
	ctx := context.Background()
	records := newRecords(t)
	env, _ := envelope(t, queue.Promotions, "web", time.Now())
	body, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	dead := time.Now().Add(-time.Minute).UTC()
	for _, d := range []state.DeadLetter{
		{Queue: queue.Promotions, ID: "m1", Body: body, BodySize: len(body), Attributes: map[string]string{queue.AttrTraceID: "t-1"},
			Reason: "wrong envelope kind", ReceiveCount: 1, SentAt: dead, DeadAt: dead},
		{Queue: queue.Builds, ID: "m2", Body: []byte("not js"), BodySize: 300 << 10, Reason: "malformed", DeadAt: dead},
		{Queue: queue.Builds, ID: "m3", Body: body, Reason: "received 5 times (max 5)", ReceiveCount: 5, DeadAt: time.Now().Add(time.Minute)},
	} {
		if err := records.PutDeadLetter(ctx, d, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	got, err := replay.NewRecorded(records).List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []replay.Record{
		{ID: "m2", Queue: queue.Builds, Reason: "malformed", DeadAt: dead, Body: []byte("not js"), BodySize: 300 << 10},
		{ID: "m1", Queue: queue.Promotions, Kind: string(event.KindPromotion), App: "web", TraceID: "t-1", ReceiveCount: 1, Reason: "wrong envelope kind",
			SentAt: dead, DeadAt: dead, Attributes: map[string]string{queue.AttrTraceID: "t-1"}, Body: body, Envelope: env},
	}
	opts := cmp.Options{cmpopts.IgnoreUnexported(replay.Record{}), cmpopts.EquateApproxTime(time.Millisecond), cmpopts.EquateEmpty()}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if got, err := replay.NewRecorded(records).List(ctx, queue.Builds); err != nil || len(got) != 1 || got[0].ID != "m2" {
		t.Errorf("List(builds) = %+v, %v; want m2 alone", got, err)
	}
}
