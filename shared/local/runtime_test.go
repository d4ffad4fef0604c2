package local_test

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestDataDirIsPrivate opens the runtime as `conveyor dev` does, under the
// usual umask 022, fills the data directory (database with its WAL, the
// registry's blobs and journal), and checks that nothing in it is readable
// by other users; then loosens every mode as an older version left them and
// checks that opening again tightens them and warns.
func TestDataDirIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "data")
	var logs bytes.Buffer
	for _, tc := range []struct {
		name     string
		before   func(t *testing.T)
		wantWarn bool
	}{
		{name: "new data directory"},
		{name: "reopened", wantWarn: false},
		{name: "loosened by an older version", before: func(t *testing.T) { loosen(t, dir) }, wantWarn: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before(t)
			}
			logs.Reset()
			fill(t, dir, slog.New(slog.NewJSONHandler(&logs, nil)))
			if got := strings.Contains(logs.String(), "readable by other users"); got != tc.wantWarn {
				t.Errorf("warned %v, want %v; logs: %s", got, tc.wantWarn, logs.String())
			}
		})
	}
}

// fill opens the runtime in dir, pushes an image to its registry and
// accepts a webhook, checks the data directory while the runtime is open
// (SQLite removes its -wal and -shm files at close), then closes it.
func fill(t *testing.T, dir string, logger *slog.Logger) {
	t.Helper()
	ctx := context.Background()
	secret := []byte("modes-secret")
	rt, err := local.Open(ctx, local.Options{DataDir: dir, GitHubSecret: secret, RegistryAddr: "127.0.0.1:0", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	addr, err := rt.ListenRegistry()
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- rt.Run(runCtx) }()
	defer func() { stop(); <-done }()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(addr.String() + "/acme/web:sha-0d1a26e67d8f")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("../../events/github-push.json")
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, webhook.PathGitHub, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "modes-1")
	req.Header.Set("X-Hub-Signature-256", webhook.SignatureHeader(secret, body))
	w := httptest.NewRecorder()
	rt.Ingress.ServeHTTP(w, req)
	if w.Code != http.StatusAccepted && w.Code != http.StatusOK {
		t.Fatalf("webhook answered %d: %s", w.Code, w.Body)
	}
	checkPrivate(t, dir)
}

// checkPrivate fails for any directory not 0700 or file not 0600 in dir.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	blobs := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else if filepath.Base(filepath.Dir(path)) == "sha256" {
			blobs++
		}
		if info.Mode().Perm() != want {
			rel, _ := filepath.Rel(dir, path)
			t.Errorf("%s has mode %v, want %v", rel, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"conveyor.db", "conveyor.db-wal", "conveyor.db-shm", "registry/manifests.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("expected %s in the data directory: %v", f, err)
		}
	}
	if blobs == 0 {
		t.Error("no registry blob in the data directory: the test checked less than it should")
	}
}

// loosen gives every directory 0755 and every file 0644.
func loosen(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(path, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
}
