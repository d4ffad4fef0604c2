package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startRuntime opens a runtime with one consumer on the builds queue whose
// handler is h, runs it, and returns it once /readyz says ready.
func startRuntime(t *testing.T, h consume.Func) (*local.Runtime, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rt, err := local.Open(ctx, local.Options{DataDir: t.TempDir(), Addr: "127.0.0.1:0", Logger: quiet(),
		PollInterval: 20 * time.Millisecond, StallAfter: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Register(local.Function{Name: "build", Queue: queue.Builds, Fn: h}); err != nil {
		t.Fatal(err)
	}
	// Not ready before Run has started the consumers.
	rec := httptest.NewRecorder()
	rt.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, local.PathReady, nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before Run: %d, want 503", rec.Code)
	}
	addr, err := rt.Listen()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		rt.Close()
	})
	base := "http://" + addr.String()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _ := get(t, base+local.PathReady)
		if code == http.StatusOK {
			return rt, base
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never answered 200 (last %d)", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, local.Status) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st local.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("decoding %s: %v", url, err)
	}
	return resp.StatusCode, st
}

func ok(context.Context, *event.Envelope) error {
	return nil
}

// TestHealthOnAFullDisk: /healthz must say 503 while the database refuses
// writes. The disk is filled honestly for the process: RLIMIT_FSIZE 0 makes
// every write(2) that would put a byte into a regular file fail with EFBIG
// (Go ignores the SIGXFSZ), exactly where ENOSPC would hit, while reads and
// sockets work. No tmpfs or loop device is available here, and a read-only
// handle or PRAGMA query_only would test a different failure.
func TestHealthOnAFullDisk(t *testing.T) {
	rt, base := startRuntime(t, ok)
	if code, st := get(t, base+"/healthz"); code != http.StatusOK || st.Consumers["build"] != "ok" {
		t.Fatalf("/healthz on a healthy disk: %d %+v", code, st)
	}
	// A message that becomes visible while the disk is full: the consumer
	// cannot receive it (receiving writes), so the queue is not consumed.
	q, _ := rt.Queues.Queue(queue.Builds)
	if _, err := q.Send(context.Background(), queue.SendInput{Body: envelope(t), GroupID: "g", Delay: 400 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 0, Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	code, st := get(t, base+"/healthz")
	rcode, _ := get(t, base+local.PathReady)
	// The message turns visible after 400 ms and the consumer counts as
	// stalled 300 ms later; a slow machine gets longer.
	var stalled local.Status
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, stalled = get(t, base+"/healthz"); stalled.Consumers["build"] == "stalled" {
			break
		}
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(st.Problems), "the database does not accept writes") ||
		!strings.Contains(fmt.Sprint(st.Problems), rt.DB.Path()) {
		t.Errorf("/healthz on a full disk: %d %+v, want 503 naming the database", code, st)
	}
	if rcode != http.StatusServiceUnavailable {
		t.Errorf("/readyz on a full disk: %d, want 503", rcode)
	}
	if !strings.Contains(fmt.Sprint(stalled.Problems), "has handled nothing") || stalled.Consumers["build"] != "stalled" {
		t.Errorf("/healthz with a message waiting that cannot be received: %+v, want build stalled", stalled)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, st := get(t, base+"/healthz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz once space is back: %d %+v", code, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHealthOfABusyConsumer: a handler working longer than StallAfter (a
// long build) is alive, not stalled.
func TestHealthOfABusyConsumer(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	rt, base := startRuntime(t, func(ctx context.Context, _ *event.Envelope) error {
		started <- struct{}{}
		<-release
		return nil
	})
	defer close(release)
	q, _ := rt.Queues.Queue(queue.Builds)
	if _, err := q.Send(context.Background(), queue.SendInput{Body: envelope(t)}); err != nil {
		t.Fatal(err)
	}
	<-started
	time.Sleep(600 * time.Millisecond)
	if code, st := get(t, base+"/healthz"); code != http.StatusOK || st.Consumers["build"] != "busy" {
		t.Errorf("/healthz with a long handler: %d %+v, want 200 and build busy", code, st)
	}
}

func TestDataDirLock(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	serving := local.Options{DataDir: dir, RegistryAddr: "127.0.0.1:0", Logger: quiet()}
	first, err := local.Open(ctx, serving)
	if err != nil {
		t.Fatal(err)
	}
	_, err = local.Open(ctx, serving)
	if !errors.Is(err, local.ErrDataDirInUse) {
		t.Fatalf("second serving runtime: %v, want ErrDataDirInUse", err)
	}
	for _, want := range []string{dir, fmt.Sprintf("pid %d", os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	// CLI commands (status, pr, promote) open the data directory beside a
	// running runtime, but may not run consumers on it.
	cli, err := local.Open(ctx, local.Options{DataDir: dir, Logger: quiet()})
	if err != nil {
		t.Fatalf("CLI open beside a running runtime: %v", err)
	}
	if err := cli.Run(ctx); !errors.Is(err, local.ErrDataDirInUse) {
		t.Errorf("Run beside a running runtime: %v, want ErrDataDirInUse", err)
	}
	cli.Close()
	first.Close()
	again, err := local.Open(ctx, serving)
	if err != nil {
		t.Fatalf("Open once the first closed: %v", err)
	}
	again.Close()
}

// envelope is a valid push envelope, so the consumer's function runs.
func envelope(t *testing.T) []byte {
	t.Helper()
	env, err := event.New(event.KindPush, "test", event.NewID(), "", event.Push{Repository: "acme/web"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
