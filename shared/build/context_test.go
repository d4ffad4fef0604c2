package build_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// commitSymlinks commits files, then each link (path → target) as a
// symlink, in a new repository at dir, and returns the commit.
func commitSymlinks(t *testing.T, dir string, files, links map[string]string) string {
	t.Helper()
	repo, err := demo.InitRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	if _, err := repo.Commit(files, "files", when); err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for p, target := range links {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	sig := &object.Signature{Name: "dev", Email: "dev@example.com", When: when.Add(time.Minute)}
	h, err := wt.Commit("links", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// TestBuildContextStaysInTheCheckout commits a build context (or a
// directory on its way) that is a symlink leaving the checkout, next to a
// private file outside it: the build is refused for good, naming the path,
// and nothing reaches the registry. A symlink that stays inside still
// builds.
func TestBuildContextStaysInTheCheckout(t *testing.T) {
	for _, tc := range []struct {
		name       string
		context    string
		dockerfile string
		links      map[string]string
		refusal    string // "" when the build must succeed
	}{
		{"context is a symlink upwards", "ctx", "Dockerfile", map[string]string{"ctx": "../.."}, `build context path \"ctx\"`},
		{"a directory on the context's path is a symlink upwards", "up/inner", "Dockerfile", map[string]string{"up": "../.."}, `build context path \"up/inner\"`},
		{"context is an absolute symlink", "ctx", "Dockerfile", map[string]string{"ctx": "/"}, `build context path \"ctx\"`},
		{"the Dockerfile's directory is a symlink upwards", ".", "up/inner/secret.txt", map[string]string{"up": "../.."}, `opening up/inner/secret.txt`},
		{"context is a symlink inside the checkout", "ctx", "Dockerfile", map[string]string{"ctx": "app"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			top := t.TempDir()
			// The private file sits where "../.." from the context lands.
			secret := filepath.Join(top, "inner", "secret.txt")
			if err := os.MkdirAll(filepath.Dir(secret), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(secret, []byte("private key material\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			work := filepath.Join(top, "work")
			if err := os.Mkdir(work, 0o755); err != nil {
				t.Fatal(err)
			}
			appDir := filepath.Join(t.TempDir(), "app")
			sha := commitSymlinks(t, appDir, map[string]string{
				"Dockerfile": "FROM scratch\nCOPY . /ctx/\n", "app/index.html": "hello\n",
			}, tc.links)

			reg, err := ociregistry.Open(t.TempDir(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			rs := httptest.NewServer(reg)
			t.Cleanup(rs.Close)
			image := strings.TrimPrefix(rs.URL, "http://") + "/acme/web"
			cfg, err := config.Parse("conveyor.yaml", []byte(fmt.Sprintf(`version: 1
apps:
  - name: web
    source: {repo: %s, branch: main}
    image: %s
    build: {context: %s, dockerfile: %s}
    environments:
      - {name: dev, path: envs/dev, release: auto}
`, appDir, image, tc.context, tc.dockerfile)))
			if err != nil {
				t.Fatal(err)
			}
			db, err := sqlitedb.Open(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			st, err := sqlitestate.Open(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			var logs strings.Builder
			b := &build.Builder{Config: func(context.Context) (*config.Config, error) { return cfg, nil }, Idem: st,
				TempDir: work, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
			f := &sourceFixture{b: b, image: image}
			err = f.push(t, event.Push{Repository: "acme/web", CloneURL: "file://" + appDir, Ref: "refs/heads/main", Branch: "main", After: sha})

			ref, _ := name.ParseReference(image + ":sha-" + sha[:12])
			_, headErr := remote.Head(ref)
			if tc.refusal == "" {
				if err != nil || headErr != nil {
					t.Fatalf("build = %v, image = %v; want it built", err, headErr)
				}
				return
			}
			if err == nil || headErr == nil {
				t.Fatalf("build = %v, image present = %v; want a refusal and no image", err, headErr == nil)
			}
			if want := tc.refusal; !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), `"permanent":true`) {
				t.Fatalf("the failure does not name %s as permanent:\n%s", want, logs.String())
			}
		})
	}
}

// commitRepo makes a repository at dir and returns a function committing a
// new index.html (with a Dockerfile copying it), returning the commit.
func commitRepo(t *testing.T, dir string) func(content string) string {
	t.Helper()
	repo, err := demo.InitRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	return func(content string) string {
		t.Helper()
		when = when.Add(time.Minute)
		c, err := repo.Commit(map[string]string{"Dockerfile": "FROM scratch\nCOPY index.html /\n", "index.html": content}, "change", when)
		if err != nil {
			t.Fatal(err)
		}
		return c.Hash.String()
	}
}
