package gitops

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// Shared helpers: real bare repositories made by the git CLI, served over
// file:// or smart HTTP by the real git http-backend.

var testAuthor = object.Signature{Name: "Conveyor Bot", Email: "bot@conveyor.test"}

// seedFiles is a small GitOps repository.
var seedFiles = map[string]string{
	"conveyor.yaml":                "apps:\n  - name: web\n",
	"README.md":                    "# gitops\n",
	"base/deployment.yaml":         "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
	"envs/dev/kustomization.yaml":  kustomization(digest(0)),
	"envs/prod/kustomization.yaml": kustomization(digest(0)),
}

func kustomization(d string) string {
	return "resources:\n  - ../../base\nimages:\n  - name: web\n    newName: registry.test/web\n    digest: " + d + " # conveyor\n"
}

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

var digestLine = regexp.MustCompile(`digest: sha256:[0-9a-f]{64}`)

// setDigest is the Edit of a promotion: it rewrites the digest of env's
// kustomization in place.
func setDigest(env, d string) Edit {
	return editDigest("envs/"+env+"/kustomization.yaml", d)
}

// editDigest rewrites the digest in the kustomization at p.
func editDigest(p, d string) Edit {
	return func(snap fs.FS) (map[string][]byte, error) {
		old, err := fs.ReadFile(snap, p)
		if err != nil {
			return nil, err
		}
		return map[string][]byte{p: digestLine.ReplaceAll(old, []byte("digest: "+d))}, nil
	}
}

// withBeforePush runs f between the edit and each push of Land.
func withBeforePush(f func(ctx context.Context, attempt int) error) Option {
	return func(o *options) error {
		o.beforePush = f
		return nil
	}
}

// runGit runs the git CLI in dir with a neutral configuration and returns its
// trimmed output.
func runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func gitEnv() []string {
	return append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Someone Else", "GIT_AUTHOR_EMAIL=else@example.test",
		"GIT_COMMITTER_NAME=Someone Else", "GIT_COMMITTER_EMAIL=else@example.test",
	)
}

// newBareRepo creates root/name (a bare repository whose main branch holds
// files) with the git CLI, ready to be served over smart HTTP.
func newBareRepo(t testing.TB, root, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	runGit(t, root, "init", "-q", "--bare", "-b", "main", dir)
	runGit(t, dir, "config", "http.receivepack", "true")
	work := t.TempDir()
	runGit(t, work, "init", "-q", "-b", "main")
	writeFiles(t, work, files)
	runGit(t, work, "add", "-A")
	runGit(t, work, "commit", "-q", "-m", "seed")
	runGit(t, work, "push", "-q", dir, "main")
	return dir
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// pushCommit is another writer: it clones branch of the repository at url
// with the git CLI, writes files, commits and pushes; it returns the commit.
func pushCommit(t testing.TB, url, branch string, files map[string]string) string {
	t.Helper()
	work := t.TempDir()
	runGit(t, work, "clone", "-q", "--depth", "1", "--branch", branch, url, ".")
	writeFiles(t, work, files)
	runGit(t, work, "add", "-A")
	runGit(t, work, "commit", "-q", "-m", "someone else's change")
	runGit(t, work, "push", "-q", "origin", "HEAD:refs/heads/"+branch)
	return runGit(t, work, "rev-parse", "HEAD")
}

// serveHTTP serves the repositories under root over git's smart HTTP
// protocol with git http-backend behind net/http/cgi, and returns the base
// URL. A non-empty user requires HTTP basic authentication.
func serveHTTP(t testing.TB, root, user, password string) string {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("the git CLI is needed to serve repositories over smart HTTP: %v", err)
	}
	var h http.Handler = &cgi.Handler{
		Path:       gitPath,
		Args:       []string{"http-backend"},
		Env:        []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_GLOBAL=/dev/null"},
		InheritEnv: []string{"PATH"},
	}
	if user != "" {
		backend := h
		h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			u, p, ok := req.BasicAuth()
			if !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			backend.ServeHTTP(w, req)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// transportCase is a way to reach a fresh seeded repository.
type transportCase struct {
	name  string
	setup func(t *testing.T) (dir, url string)
}

var transports = []transportCase{
	{"file", func(t *testing.T) (string, string) {
		dir := newBareRepo(t, t.TempDir(), "gitops.git", seedFiles)
		return dir, "file://" + dir
	}},
	{"smart-http", func(t *testing.T) (string, string) {
		root := t.TempDir()
		dir := newBareRepo(t, root, "gitops.git", seedFiles)
		return dir, serveHTTP(t, root, "", "") + "/gitops.git"
	}},
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
