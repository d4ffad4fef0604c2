package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// pipelineYAML is a valid conveyor.yaml whose author is name.
func pipelineYAML(name string) string {
	return fmt.Sprintf(`version: 1
gitops:
  branch: main
  author: {name: %s, email: bot@example.com}
apps:
  - name: hello
    source: {repo: /srv/git/hello}
    image: localhost:5000/hello
    environments:
      - {name: dev, path: envs/dev, reviewers: [alice]}
`, name)
}

// newRepo is a real repository on disk whose main branch holds files.
func newRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	commit(t, dir, files)
	return dir
}

// commit writes files in dir's worktree and commits them on its branch.
func commit(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "change")
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Someone", "GIT_AUTHOR_EMAIL=someone@example.test",
		"GIT_COMMITTER_NAME=Someone", "GIT_COMMITTER_EMAIL=someone@example.test")
	// git writes nothing to stderr on success: the output is the answer.
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// counted is a Cache whose tip checks and file reads are counted.
func counted(c *Cache) (heads, reads *int) {
	heads, reads = new(int), new(int)
	head, read := c.head, c.read
	c.head = func(ctx context.Context, location, branch string, auth transport.AuthMethod) (string, error) {
		*heads++
		return head(ctx, location, branch, auth)
	}
	c.read = func(ctx context.Context, location, branch, path string, auth transport.AuthMethod) ([]byte, string, error) {
		*reads++
		return read(ctx, location, branch, path, auth)
	}
	return heads, reads
}

// TestCacheParsesOncePerCommit reads conveyor.yaml through one cache while
// the branch moves: the file is fetched and parsed once per commit, an
// unchanged tip costs one tip check, and an invalid file is kept for its
// commit as the permanent config.Errors it is.
func TestCacheParsesOncePerCommit(t *testing.T) {
	ctx := t.Context()
	dir := newRepo(t, map[string]string{File: pipelineYAML("First")})
	c := NewCache(dir, "main", nil)
	heads, reads := counted(c)
	for _, step := range []struct {
		name        string
		change      map[string]string // committed before the calls
		calls       int
		author      string // "" when the file is invalid
		heads, read int    // totals after the step
	}{
		{"first read", nil, 3, "First", 2, 1},
		{"conveyor.yaml changed", map[string]string{File: pipelineYAML("Second")}, 2, "Second", 4, 2},
		{"another file changed", map[string]string{"README.md": "hi\n"}, 2, "Second", 6, 3},
		{"invalid conveyor.yaml", map[string]string{File: "version: 1\napps: [{name: }]\n"}, 3, "", 9, 4},
		{"fixed", map[string]string{File: pipelineYAML("Third")}, 1, "Third", 10, 5},
	} {
		t.Run(step.name, func(t *testing.T) {
			if step.change != nil {
				commit(t, dir, step.change)
			}
			for range step.calls {
				cfg, err := c.Config(ctx)
				var errs config.Errors
				switch {
				case step.author == "" && !errors.As(err, &errs):
					t.Fatalf("Config = %v, want config.Errors", err)
				case step.author != "" && err != nil:
					t.Fatal(err)
				case step.author != "" && cfg.GitOps.Author.Name != step.author:
					t.Fatalf("author = %q, want %q", cfg.GitOps.Author.Name, step.author)
				}
			}
			if *heads != step.heads || *reads != step.read {
				t.Errorf("after %d calls: %d tip checks and %d reads, want %d and %d", step.calls, *heads, *reads, step.heads, step.read)
			}
		})
	}
}

// TestCacheMaxAge skips the tip check within the maximum age only.
func TestCacheMaxAge(t *testing.T) {
	ctx := t.Context()
	dir := newRepo(t, map[string]string{File: pipelineYAML("First")})
	now := time.Unix(1_700_000_000, 0)
	c := NewCache(dir, "main", nil, WithMaxAge(30*time.Second))
	c.now = func() time.Time { return now }
	heads, reads := counted(c)
	for _, step := range []struct {
		advance     time.Duration
		heads, read int
	}{{0, 0, 1}, {10 * time.Second, 0, 1}, {25 * time.Second, 1, 1}, {10 * time.Second, 1, 1}} {
		now = now.Add(step.advance)
		if _, err := c.Config(ctx); err != nil {
			t.Fatal(err)
		}
		if *heads != step.heads || *reads != step.read {
			t.Errorf("at +%v: %d tip checks and %d reads, want %d and %d", step.advance, *heads, *reads, step.heads, step.read)
		}
	}
}

// TestCacheTimesOutEachStep bounds a tip check and a read that hang (a
// remote that accepts the connection and says nothing) by the step timeout,
// not the caller's deadline.
func TestCacheTimesOutEachStep(t *testing.T) {
	hang := func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	dir := newRepo(t, map[string]string{File: pipelineYAML("First")})
	for _, tc := range []struct {
		name string
		warm bool // the cache holds a commit: the tip is checked first
	}{{"read", false}, {"tip check", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCache(dir, "main", nil, WithTimeout(50*time.Millisecond))
			if tc.warm {
				if _, err := c.Config(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			c.head = func(ctx context.Context, _, _ string, _ transport.AuthMethod) (string, error) { return "", hang(ctx) }
			c.read = func(ctx context.Context, _, _, _ string, _ transport.AuthMethod) ([]byte, string, error) {
				return nil, "", hang(ctx)
			}
			start := time.Now()
			_, err := c.Config(t.Context())
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Config = %v, want a deadline exceeded", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Config returned after %v, want about the 50 ms step timeout", d)
			}
		})
	}
}

// TestCacheParsesOncePerVersionOfTheFile moves the branch with commits
// that do and do not change conveyor.yaml: only a new version of the file
// is parsed again (a promotion merge changes manifests, not the pipeline,
// and a 10,000-app file takes a second to parse).
func TestCacheParsesOncePerVersionOfTheFile(t *testing.T) {
	ctx := t.Context()
	dir := newRepo(t, map[string]string{File: pipelineYAML("First")})
	c := NewCache(dir, "main", nil)
	parses := 0
	c.parse = func(filename string, data []byte, opts ...config.ParseOption) (*config.Config, error) {
		parses++
		return config.Parse(filename, data, opts...)
	}
	for _, step := range []struct {
		name   string
		change map[string]string
		author string
		parses int // total after the step
	}{
		{"first read", nil, "First", 1},
		{"a manifest changed", map[string]string{"envs/dev/kustomization.yaml": "images: []\n"}, "First", 1},
		{"another manifest changed", map[string]string{"envs/prod/kustomization.yaml": "images: []\n"}, "First", 1},
		{"conveyor.yaml changed", map[string]string{File: pipelineYAML("Second")}, "Second", 2},
		{"conveyor.yaml back to its first version", map[string]string{File: pipelineYAML("First")}, "First", 3},
	} {
		t.Run(step.name, func(t *testing.T) {
			if step.change != nil {
				commit(t, dir, step.change)
			}
			cfg, err := c.Config(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.GitOps.Author.Name != step.author {
				t.Errorf("author = %q, want %q", cfg.GitOps.Author.Name, step.author)
			}
			if parses != step.parses {
				t.Errorf("%d parses, want %d", parses, step.parses)
			}
		})
	}
}
