package local_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

// senders is how many clients post webhooks at once in BenchmarkIngress: a
// burst from a busy organisation, and enough to fill a group commit.
const senders = 64

// BenchmarkIngress measures signed push webhooks accepted per second over
// real HTTP on loopback from 64 concurrent senders, each verified,
// deduplicated and durably enqueued (SQLite WAL, synchronous=FULL) before
// the 202 is sent.
func BenchmarkIngress(b *testing.B) {
	ctx := context.Background()
	secret := []byte("bench-secret")
	rt, err := local.Open(ctx, local.Options{DataDir: b.TempDir(), Addr: "127.0.0.1:0", GitHubSecret: secret,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	addr, err := rt.Listen()
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- rt.Run(runCtx) }()
	defer func() { stop(); <-done }()

	body, err := os.ReadFile("../../events/github-push.json")
	if err != nil {
		b.Fatal(err)
	}
	url := "http://" + addr.String() + webhook.PathGitHub
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	var seq, accepted atomic.Int64
	// RunParallel starts parallelism × GOMAXPROCS goroutines.
	b.SetParallelism((senders + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// Each event needs its own body: the ingress dedupes on the
			// signed body as well as on the delivery id.
			n := seq.Add(1)
			one := append(fmt.Appendf(nil, `{"bench_seq":%d,`, n), body[1:]...)
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(one))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "push")
			req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d", n))
			req.Header.Set("X-Hub-Signature-256", webhook.SignatureHeader(secret, one))
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			accepted.Add(1)
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(accepted.Load())/elapsed.Seconds(), "events/s")
	if st := rt.Commits.Stats(); st.Batches > 0 {
		b.ReportMetric(float64(st.Writes)/float64(st.Batches), "events/commit")
	}
	stats, err := rt.QueueStats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if got := int64(stats[queue.Builds].Visible); got != accepted.Load() {
		b.Fatalf("%d accepted but %d in the builds queue", accepted.Load(), got)
	}
}
