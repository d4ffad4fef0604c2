package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/replay"
	"github.com/google/go-cmp/cmp"
)

// TestRequestSample decodes events/replay-request.json strictly, checks
// that it encodes back to the same JSON, and runs it.
func TestRequestSample(t *testing.T) {
	raw, err := os.ReadFile("../../events/replay-request.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var req replay.Request
	if err := dec.Decode(&req); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = json.Unmarshal(raw, &a)
	_ = json.Unmarshal(again, &b)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("round trip (-sample +encoded):\n%s", diff)
	}
	f, err := req.Filter()
	if err != nil {
		t.Fatal(err)
	}
	if want := (replay.Filter{Queue: queue.Promotions, Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), IDs: []string{}}); !cmp.Equal(want, f) {
		t.Errorf("Filter() = %+v, want %+v", f, want)
	}
}

func TestHandler(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	ids, _ := fx.kill(t, dead{queue.Promotions, "web", "forge said 422"}, dead{queue.Promotions, "api", "forge said 422"})
	h := replay.Handler(fx.dead, slog.New(slog.NewTextHandler(io.Discard, nil)))

	var req replay.Request
	if err := json.Unmarshal([]byte(`{"queue":"promotions","app":"web","since":"2026-11-01T00:00:00Z","dry_run":true}`), &req); err != nil {
		t.Fatal(err)
	}
	s, err := h(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(s)
	if want := `{"matched":1,"moved":0,"skipped":0,"failed":0,"dry_run":true,"ids":["` + ids[0] + `"]}`; string(out) != want {
		t.Errorf("dry-run answer %s, want %s", out, want)
	}
	req.DryRun = false
	if s, err = h(ctx, req); err != nil || s.Moved != 1 {
		t.Fatalf("answer %+v, %v; want 1 moved", s, err)
	}
	if _, err := h(ctx, replay.Request{Since: "yesterday"}); err == nil {
		t.Error("a bad since was accepted")
	}
}
