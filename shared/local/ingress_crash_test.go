package local_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/crashpoint"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

const (
	envIngressChild = "CONVEYOR_TEST_INGRESS_CHILD"
	crashSecret     = "crash-secret"
)

// TestIngressAcknowledgesOnlyCommittedEvents kills the local runtime with
// SIGKILL while 64 senders post webhooks, between the moment a shared
// transaction holds a batch of events and its commit, after a warm-up of
// one-event batches and a few batches of the burst committed. Every delivery answered 2xx must then be in the queue, exactly
// once; a restarted runtime answers each of them as a duplicate, accepts the
// rest, and the queue ends with every delivery exactly once.
func TestIngressAcknowledgesOnlyCommittedEvents(t *testing.T) {
	if dir := os.Getenv(envIngressChild); dir != "" {
		ingressChild(t, dir)
		return
	}
	dir := filepath.Join(t.TempDir(), "data")
	const senders, each, warmup = 64, 10, 20
	var all []string
	for i := range warmup {
		all = append(all, fmt.Sprintf("warmup-%d", i))
	}
	for s := range senders {
		for i := range each {
			all = append(all, fmt.Sprintf("d-%02d-%d", s, i))
		}
	}

	// Sent one at a time, each warm-up delivery is a batch of its own; the
	// burst's 5th batch dies before its commit.
	url, child := startIngress(t, dir, fmt.Sprintf("%s#%d", crashpoint.BeforeGroupCommit, warmup+5))
	acked := map[string]bool{}
	for _, id := range all[:warmup] {
		if code, err := postPush(url, id); err != nil || code != http.StatusAccepted {
			t.Fatalf("warm-up delivery %s: %d %v", id, code, err)
		}
		acked[id] = true
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("d-%02d-%d", s, i)
				code, err := postPush(url, id)
				if err != nil {
					return // the runtime died
				}
				if code/100 == 2 {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	err := child.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the runtime ended with %v, want it killed at the crash point", err)
	}
	if len(acked) == len(all) {
		t.Fatalf("%d of %d deliveries acknowledged: the crash did not fall mid-run", len(acked), len(all))
	}
	got := deliveredIDs(t, dir)
	for id := range acked {
		if got[id] != 1 {
			t.Errorf("delivery %s was acknowledged but is in the queue %d times", id, got[id])
		}
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("delivery %s is in the queue %d times", id, n)
		}
	}
	t.Logf("%d acknowledged before the crash, %d committed", len(acked), len(got))

	url, child = startIngress(t, dir, "")
	for _, id := range all {
		code, err := postPush(url, id)
		switch {
		case err != nil:
			t.Fatal(err)
		case acked[id] && code != http.StatusOK:
			t.Errorf("redelivery of acknowledged %s: %d, want 200 duplicate", id, code)
		case code/100 != 2:
			t.Errorf("redelivery of %s: %d, want 2xx", id, code)
		}
	}
	_ = child.Process.Signal(syscall.SIGTERM)
	_ = child.Wait()
	got = deliveredIDs(t, dir)
	for _, id := range all {
		if got[id] != 1 {
			t.Errorf("after redelivery %s is in the queue %d times, want once", id, got[id])
		}
	}
	if len(got) != len(all) {
		t.Errorf("the queue holds %d deliveries, want %d", len(got), len(all))
	}
}

// ingressChild serves the local ingress on dir until killed, printing its
// address first.
func ingressChild(t *testing.T, dir string) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	rt, err := local.Open(ctx, local.Options{DataDir: dir, Addr: "127.0.0.1:0", GitHubSecret: []byte(crashSecret),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	addr, err := rt.Listen()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("listening %s\n", addr)
	if err := rt.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// startIngress runs this test binary as an ingress on dir, with crash armed
// as the crash point, and returns its GitHub webhook URL.
func startIngress(t *testing.T, dir, crash string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIngressAcknowledgesOnlyCommittedEvents$", "-test.count=1")
	cmd.Env = append(os.Environ(), envIngressChild+"="+dir, crashpoint.Env+"="+crash)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var addr string
	line, err := bufio.NewReader(out).ReadString('\n')
	if _, serr := fmt.Sscanf(line, "listening %s", &addr); err != nil || serr != nil {
		t.Fatalf("the ingress did not start: %q %v %v", line, err, serr)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return "http://" + addr + webhook.PathGitHub, cmd
}

// postPush posts a signed push whose body is unique to id.
func postPush(url, id string) (int, error) {
	body := fmt.Appendf(nil, `{"ref":"refs/heads/main","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","test_delivery":%q,`+
		`"repository":{"full_name":"acme/web","clone_url":"https://github.com/acme/web.git"},"head_commit":{"id":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}}`, id)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", webhook.SignatureHeader([]byte(crashSecret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// deliveredIDs counts the queued messages per delivery id in dir.
func deliveredIDs(t *testing.T, dir string) map[string]int {
	t.Helper()
	d, err := sqlitedb.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rows, err := d.SQL().Query(`SELECT json_extract(body, '$.delivery_id') FROM queue_messages`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id]++
	}
	return out
}
