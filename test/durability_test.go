package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

const (
	envChild     = "CONVEYOR_TEST_DURABILITY_CHILD"
	envHangAfter = "CONVEYOR_TEST_HANG_AFTER"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envChild); dir != "" {
		if err := durabilityChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	removeBootstraps()
	os.Exit(code)
}

// durabilityChild runs the local runtime with a consumer that journals each
// message it begins and finishes. With envHangAfter=N it hangs in the middle
// of the batch that follows the N-th finished message, so the parent can
// kill it with a batch in flight.
func durabilityChild(dir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	hangAfter, _ := strconv.Atoi(os.Getenv(envHangAfter))
	journal, err := os.OpenFile(filepath.Join(dir, "journal"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	done := 0
	write := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(journal, line)
		_ = journal.Sync()
	}
	rt, err := local.Open(ctx, local.Options{DataDir: filepath.Join(dir, "data"), Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), PollInterval: 20 * time.Millisecond})
	if err != nil {
		return err
	}
	defer rt.Close()
	err = rt.Register(local.Function{Name: "recorder", Queue: queue.Builds, BatchSize: 5, Visibility: time.Second,
		// Bodies are plain ids, not envelopes.
		Decode: func(b []byte) (*event.Envelope, error) { return &event.Envelope{ID: string(b)}, nil },
		Fn: func(ctx context.Context, env *event.Envelope) error {
			write("begin " + env.ID)
			// Batches are full (5 of 100 queued): hanging one message past
			// hangAfter hangs the batch after its first message finished,
			// so the kill leaves finished-but-undeleted messages behind.
			if hangAfter > 0 && done > hangAfter {
				write("hang " + env.ID)
				select {} // killed here, mid-batch
			}
			time.Sleep(5 * time.Millisecond)
			write("done " + env.ID)
			done++
			return nil
		}})
	if err != nil {
		return err
	}
	return rt.Run(ctx)
}

func startChild(t *testing.T, dir string, hangAfter int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+dir, envHangAfter+"="+strconv.Itoa(hangAfter))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

func readJournal(t *testing.T, dir string) (begun, finished map[string]int, hung bool) {
	t.Helper()
	begun, finished = map[string]int{}, map[string]int{}
	f, err := os.Open(filepath.Join(dir, "journal"))
	if os.IsNotExist(err) {
		return begun, finished, false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		verb, body, _ := strings.Cut(sc.Text(), " ")
		switch verb {
		case "begin":
			begun[body]++
		case "done":
			finished[body]++
		case "hang":
			hung = true
		}
	}
	return begun, finished, hung
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSurvivesSIGKILL sends 100 messages, kills the runtime with SIGKILL
// while a batch is in flight, restarts it, and checks that every message is
// processed and the queue drains: at-least-once, nothing lost.
func TestSurvivesSIGKILL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rt, err := local.Open(ctx, local.Options{DataDir: filepath.Join(dir, "data"), Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	builds, _ := rt.Queues.Queue(queue.Builds)
	const n = 100
	for i := 0; i < n; i++ {
		if _, err := builds.Send(ctx, queue.SendInput{Body: []byte(fmt.Sprintf("m%03d", i))}); err != nil {
			t.Fatal(err)
		}
	}

	child := startChild(t, dir, 20)
	waitFor(t, "the child to hang mid-batch", 30*time.Second, func() bool { _, _, hung := readJournal(t, dir); return hung })
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = child.Process.Wait()
	stats, err := rt.QueueStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats[queue.Builds].InFlight == 0 {
		t.Fatalf("after SIGKILL mid-batch the queue shows nothing in flight: %+v", stats[queue.Builds])
	}
	_, before, _ := readJournal(t, dir)
	t.Logf("killed after %d messages finished; %d in flight", len(before), stats[queue.Builds].InFlight)

	startChild(t, dir, 0)
	waitFor(t, "the queue to drain after restart", 60*time.Second, func() bool {
		s, err := rt.QueueStats(ctx)
		return err == nil && s[queue.Builds] == (local.QueueStats{})
	})
	_, finished, _ := readJournal(t, dir)
	var lost []string
	dups := 0
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("m%03d", i)
		switch c := finished[id]; {
		case c == 0:
			lost = append(lost, id)
		case c > 1:
			dups++
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d messages never processed: %v", len(lost), lost)
	}
	if dups == 0 {
		t.Fatal("no message of the killed batch was delivered again: the batch was not in flight")
	}
	t.Logf("all %d processed; %d finished before the kill and were redelivered (at-least-once)", n, dups)
	rt.Close()
}
