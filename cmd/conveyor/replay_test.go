package main

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/replay"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/google/go-cmp/cmp"
)

// deadLetters fills a data directory with dead letters and returns the
// message ids by name: web and api promotions, a web build, and "huge", an
// envelope so close to event.MaxSize that bumping its replay counter
// overflows it.
func deadLetters(t *testing.T) (string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlitedb.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b, err := sqlitequeue.Open(ctx, db, queue.Topology)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	kill := func(name, qname string, body []byte, group, app, reason string) {
		q, _ := b.Queue(qname)
		attrs := map[string]string{queue.AttrApp: app}
		id, err := q.Send(ctx, queue.SendInput{Body: body, GroupID: group, Attributes: attrs})
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := q.Receive(ctx, 1, time.Minute)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("Receive = %+v, %v", msgs, err)
		}
		if err := q.DeadLetter(ctx, msgs[0].ReceiptHandle, reason); err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	// One whole-second time: envelopes of the same payload have the same size.
	now := time.Now().Truncate(time.Second)
	encode := func(kind event.Kind, payload any) []byte {
		env, err := event.New(kind, "conveyor", "", "", payload, now)
		if err != nil {
			t.Fatal(err)
		}
		body, err := env.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	web := event.Promotion{App: "web", Environment: "staging", Image: "ghcr.io/acme/web", Digest: "sha256:" + strings.Repeat("a", 64)}
	kill("web", queue.Promotions, encode(event.KindPromotion, web), web.GroupID(), "web", "opening PR: forge said 422 Validation Failed")
	api := event.Promotion{App: "api", Environment: "staging", Image: "ghcr.io/acme/api", Digest: "sha256:" + strings.Repeat("b", 64)}
	kill("api", queue.Promotions, encode(event.KindPromotion, api), api.GroupID(), "api", "cloning gitops: connection reset")
	kill("build", queue.Builds, encode(event.KindPush, event.Push{Repository: "acme/web", Ref: "refs/heads/main", After: "abc"}), "", "web",
		"Dockerfile:3: RUN is not supported\nsecond line")
	// Bumping adds `,"replayed":1` (13 bytes) to an envelope 2 bytes short
	// of the limit.
	push := event.Push{Repository: "acme/huge", After: "x", Pusher: "p"}
	push.Pusher = strings.Repeat("p", 1+event.MaxSize-2-len(encode(event.KindPush, push)))
	huge := encode(event.KindPush, push)
	kill("huge", queue.Builds, huge, "", "huge", "too big to fail")
	return dir, ids
}

func conveyor(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func listIDs(t *testing.T, dir string, filters ...string) []string {
	t.Helper()
	code, out, errs := conveyor(t, append([]string{"replay", "list", "--data-dir", dir, "--json"}, filters...)...)
	if code != 0 {
		t.Fatalf("replay list: exit %d: %s", code, errs)
	}
	var recs []replay.Record
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("replay list --json: %v\n%s", err, out)
	}
	ids := []string{}
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	// Sorted: dead letters of one millisecond have no order.
	sort.Strings(ids)
	return ids
}

func sorted(ids ...string) []string {
	out := append([]string{}, ids...)
	sort.Strings(out)
	return out
}

func TestReplayList(t *testing.T) {
	dir, ids := deadLetters(t)
	code, out, errs := conveyor(t, "replay", "list", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"ID", "RECEIVES", "DEAD AT", ids["web"], ids["build"], "promotions", "promotion", "opening PR: forge said 422", "RUN is not supported…"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "second line") {
		t.Errorf("list shows a reason's second line:\n%s", out)
	}
	for _, tc := range []struct {
		name    string
		filters []string
		want    []string
	}{
		{"all", nil, sorted(ids["web"], ids["api"], ids["build"], ids["huge"])},
		{"queue", []string{"--queue", "promotions"}, sorted(ids["web"], ids["api"])},
		{"app", []string{"--app", "web"}, sorted(ids["web"], ids["build"])},
		{"kind", []string{"--kind", "push"}, sorted(ids["build"], ids["huge"])},
		{"error", []string{"--error", "FORGE SAID"}, sorted(ids["web"])},
		{"since duration", []string{"--since", "1h"}, sorted(ids["web"], ids["api"], ids["build"], ids["huge"])},
		{"since time", []string{"--since", time.Now().Add(time.Hour).Format(time.RFC3339)}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, listIDs(t, dir, tc.filters...)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplayShow(t *testing.T) {
	dir, ids := deadLetters(t)
	code, out, errs := conveyor(t, "replay", "show", ids["web"], "--data-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"id:", ids["web"], "queue:", "promotions (dead letter in promotions-dlq)", "reason:", "forge said 422 Validation Failed",
		"envelope: v1", "replayed 0 times", "payload:\n{\n  \"app\": \"web\",\n  \"environment\": \"staging\""} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
	// After a redrive and a second failure, show lists the first one too.
	if code, _, errs := conveyor(t, "replay", "redrive", ids["web"], "--data-dir", dir); code != 0 {
		t.Fatalf("redrive: exit %d: %s", code, errs)
	}
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sqlitequeue.Open(ctx, db, queue.Topology)
	q, _ := b.Queue(queue.Promotions)
	msgs, _ := q.Receive(ctx, 10, time.Minute)
	for _, m := range msgs {
		if m.ID == ids["web"] {
			_ = q.DeadLetter(ctx, m.ReceiptHandle, "opening PR: branch protection")
		} else {
			_ = q.ChangeVisibility(ctx, m.ReceiptHandle, 0)
		}
	}
	db.Close()
	code, out, _ = conveyor(t, "replay", "show", ids["web"], "--data-dir", dir, "--json")
	var r replay.Record
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
		t.Fatalf("show --json: exit %d, %v\n%s", code, err, out)
	}
	if r.Reason != "opening PR: branch protection" || len(r.History) != 1 || r.History[0].Reason != "opening PR: forge said 422 Validation Failed" || r.Envelope.Replayed != 1 {
		t.Errorf("show --json: reason %q, history %+v, replayed %d", r.Reason, r.History, r.Envelope.Replayed)
	}
	if code, _, errs := conveyor(t, "replay", "show", "nope", "--data-dir", dir); code != 1 || !strings.Contains(errs, "not a dead letter") {
		t.Errorf("show of an unknown id: exit %d, %s", code, errs)
	}
}

func TestReplayRedrive(t *testing.T) {
	dir, ids := deadLetters(t)

	code, out, errs := conveyor(t, "replay", "redrive", "--data-dir", dir, "--app", "web", "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, errs)
	}
	for _, want := range []string{"dry run: would move 2 of 2", ids["web"], ids["build"], "moved 0, skipped 0, failed 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	if got := listIDs(t, dir); len(got) != 4 {
		t.Fatalf("dry run moved something: %v left", got)
	}

	code, out, errs = conveyor(t, "replay", "redrive", "--data-dir", dir, "--queue", "promotions", "--error", "422", "--rate", "100", "--limit", "5")
	if code != 0 || out != "moved 1, skipped 0, failed 0\n" || errs != "" {
		t.Fatalf("redrive: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if diff := cmp.Diff(sorted(ids["api"], ids["build"], ids["huge"]), listIDs(t, dir)); diff != "" {
		t.Errorf("left dead (-want +got):\n%s", diff)
	}

	// A failure is reported, the rest still moves, and the exit is 1.
	code, out, errs = conveyor(t, "replay", "redrive", "--data-dir", dir, "--kind", "push")
	if code != 1 || !strings.Contains(out, "moved 1, skipped 0, failed 1") || !strings.Contains(errs, "failed: redriving "+ids["huge"]) {
		t.Errorf("redrive with a failure: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if diff := cmp.Diff(sorted(ids["api"], ids["huge"]), listIDs(t, dir)); diff != "" {
		t.Errorf("left dead (-want +got):\n%s", diff)
	}

	// --all takes the rest; --json prints the summary.
	code, out, _ = conveyor(t, "replay", "redrive", "--data-dir", dir, "--all", "--limit", "1", "--json")
	var s replay.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != 0 || s.Moved != 1 || s.Matched != 2 {
		t.Errorf("redrive --all --limit 1 --json: exit %d, %v, %s", code, err, out)
	}
}

func TestReplayUsage(t *testing.T) {
	dir, _ := deadLetters(t)
	for _, args := range [][]string{
		{"replay"},
		{"replay", "purge"},
		{"replay", "list", "extra", "--data-dir", dir},
		{"replay", "show", "--data-dir", dir},
		{"replay", "list", "--since", "yesterday", "--data-dir", dir},
		{"replay", "list", "--queue", "nope", "--data-dir", dir},
		{"replay", "list", "--dry-run", "--data-dir", dir},
		{"replay", "redrive", "--data-dir", dir},
		{"replay", "redrive", "--all", "--rate", "-1", "--data-dir", dir},
	} {
		if code, _, errs := conveyor(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errs)
		}
	}
	if code, _, errs := conveyor(t, "replay", "list", "--data-dir", t.TempDir()); code != 1 || !strings.Contains(errs, "no Conveyor data") {
		t.Errorf("empty data dir: exit %d, %s", code, errs)
	}
}

func TestProgressBar(t *testing.T) {
	for _, tc := range []struct {
		done, total int
		want        string
	}{
		{0, 4, "\r[>                             ] 0/4"},
		{1, 4, "\r[=======>                      ] 1/4"},
		{4, 4, "\r[==============================] 4/4"},
	} {
		var b bytes.Buffer
		progressBar(&b, tc.done, tc.total)
		if b.String() != tc.want {
			t.Errorf("progressBar(%d, %d) = %q, want %q", tc.done, tc.total, b.String(), tc.want)
		}
	}
}
