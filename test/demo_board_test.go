package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/demo"
)

// TestDemoEndsOnTheBoard: the demo's last words name the board, and
// `conveyor board --data-dir` then serves the demo's whole story — every
// environment on the built digest, the prod PR and its approver — from
// the records alone, read-only.
func TestDemoEndsOnTheBoard(t *testing.T) {
	var out bytes.Buffer
	res, err := demo.Run(context.Background(), &out, demo.Options{Dir: t.TempDir(), All: true})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "board --data-dir "+res.DataDir) || !strings.Contains(last, "http://127.0.0.1:8090/") {
		t.Fatalf("the demo ends with %q, want the board command and its URL", last)
	}

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(conveyorBin(t), "board", "--data-dir", res.DataDir, "--addr", addr)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	banner, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !regexp.MustCompile(`conveyor board: board on http://`+regexp.QuoteMeta(addr)+`/`).MatchString(banner) {
		t.Fatalf("conveyor board printed %q (%v); stderr: %s", banner, err, stderr.String())
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	digest := res.Image[strings.Index(res.Image, "@")+1:]
	code, page := get("/")
	if code != http.StatusOK {
		t.Fatalf("GET /: %d", code)
	}
	short := strings.TrimPrefix(digest, "sha256:")[:12]
	if n := strings.Count(page, short); n < 3 {
		t.Fatalf("the board shows the built digest %s %d times, want once per environment at least:\n%s", short, n, page)
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		if !strings.Contains(page, ">"+env+"<") {
			t.Errorf("the board has no %s column", env)
		}
	}
	if code, app := get("/apps/web"); code != http.StatusOK || !strings.Contains(app, "alice") {
		t.Fatalf("GET /apps/web: %d; want the prod approver alice in the history:\n%s", code, app)
	}
	if code, _ := get(fmt.Sprintf("/prs/%d", res.ProdPR)); code != http.StatusOK {
		t.Fatalf("GET /prs/%d: %d", res.ProdPR, code)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /: %v %v, want 405: the board is read-only", resp, err)
	}
}
