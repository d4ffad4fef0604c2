package test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// tool returns the path of a pinned tool installed by `make tools`. A
// missing tool fails the test: skipping would count an untested path as
// passing.
func tool(tb testing.TB, name string) string {
	tb.Helper()
	dir := os.Getenv("CONVEYOR_TOOLS")
	if dir == "" {
		dir = filepath.Join("..", ".tools")
	}
	p, err := filepath.Abs(filepath.Join(dir, "bin", name))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("%s is not installed (%v): run `make tools` (test/tools/install.sh)", name, err)
	}
	return p
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startDistribution runs the CNCF distribution registry on loopback with
// notifications sent to notifyURL (with a bearer token) and returns its
// host:port.
func startDistribution(tb testing.TB, notifyURL, token string) string {
	tb.Helper()
	bin := tool(tb, "registry")
	dir := tb.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(tb))
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	if notifyURL != "" {
		cfg += fmt.Sprintf(`notifications:
  endpoints:
    - name: conveyor
      url: %s
      headers:
        Authorization: [Bearer %s]
      timeout: 2s
      threshold: 5
      backoff: 100ms
`, notifyURL, token)
	}
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", path)
	// distribution v3 exports traces to localhost:4318 unless told not to.
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("distribution registry did not start on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
