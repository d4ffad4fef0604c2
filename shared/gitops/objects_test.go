package gitops

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer serves the repositories under root over smart HTTP, as
// serveHTTP does, and counts the bytes of every upload-pack answer: what
// fetches transfer.
func countingServer(t *testing.T, root string) (string, *atomic.Int64) {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("the git CLI is needed to serve repositories over smart HTTP: %v", err)
	}
	backend := &cgi.Handler{Path: gitPath, Args: []string{"http-backend"},
		Env:        []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_GLOBAL=/dev/null"},
		InheritEnv: []string{"PATH"}}
	var fetched atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			w = &countingWriter{ResponseWriter: w, n: &fetched}
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &fetched
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.n.Add(int64(len(b)))
	return w.ResponseWriter.Write(b)
}

// TestProposeWithObjectCacheFetchesOnlyWhatChanged proposes twice in a
// 300-app repository, with another writer's commit on main in between:
// with an object cache the second fetch transfers that commit's few
// objects, not the whole tree again, and the proposal still builds on the
// new tip.
func TestProposeWithObjectCacheFetchesOnlyWhatChanged(t *testing.T) {
	files := map[string]string{}
	for a := range 300 {
		files[fmt.Sprintf("apps/%04d/kustomization.yaml", a)] = kustomization(digest(a))
		files[fmt.Sprintf("apps/%04d/deployment.yaml", a)] = deployment(a, 0)
		// Incompressible content, so the tree's weight is in its blobs.
		files[fmt.Sprintf("apps/%04d/notes.txt", a)] = noise(a, 32)
	}
	for _, tc := range []struct {
		name string
		opts []Option
		// smaller is whether the second fetch must be under a tenth of
		// the first.
		smaller bool
	}{
		{name: "cached", opts: []Option{WithObjectCache(NewObjectCache())}, smaller: true},
		{name: "uncached", smaller: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			root := t.TempDir()
			dir := newBareRepo(t, root, "gitops.git", files)
			base, fetched := countingServer(t, root)
			url := base + "/gitops.git"
			r, err := New(url, "main", nil, testAuthor, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			when := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			if _, err := r.Propose(ctx, "conveyor/dev/app-0001", setAppDigest(1, digest(1001)), "promote 1", when); err != nil {
				t.Fatalf("first Propose: %v", err)
			}
			first := fetched.Swap(0)
			other := pushCommit(t, url, "main", map[string]string{"apps/0002/deployment.yaml": deployment(2, 1)})
			fetched.Store(0)
			c, err := r.Propose(ctx, "conveyor/dev/app-0003", setAppDigest(3, digest(1003)), "promote 3", when)
			if err != nil {
				t.Fatalf("second Propose: %v", err)
			}
			second := fetched.Load()
			if got := second*10 < first; got != tc.smaller {
				t.Errorf("second fetch %d bytes, first %d: under a tenth = %v, want %v", second, first, got, tc.smaller)
			}
			if c.Base != other {
				t.Errorf("second proposal built on %s, want the other writer's %s", c.Base, other)
			}
			if got := runGit(t, dir, "show", c.SHA+":apps/0002/deployment.yaml") + "\n"; got != deployment(2, 1) {
				t.Errorf("second proposal lost the other writer's change: %q", got)
			}
			if got := runGit(t, dir, "diff-tree", "-r", "--name-only", "--no-commit-id", other, c.SHA); got != "apps/0003/kustomization.yaml" {
				t.Errorf("second proposal changes %q, want apps/0003/kustomization.yaml only", got)
			}
			runGit(t, dir, "fsck", "--strict", "--no-progress")
		})
	}
}

// noise is lines lines of hex that no compressor shrinks much.
func noise(seed, lines int) string {
	var b strings.Builder
	h := sha256.Sum256([]byte(fmt.Sprint(seed)))
	for range lines {
		fmt.Fprintf(&b, "%x\n", h)
		h = sha256.Sum256(h[:])
	}
	return b.String()
}

// TestReadFileCachedFetchesOnlyWhatChanged reads conveyor.yaml from a
// 300-app repository before and after another writer's commit: through an
// object cache the second read transfers that commit, not the whole tree,
// and returns the new content.
func TestReadFileCachedFetchesOnlyWhatChanged(t *testing.T) {
	files := map[string]string{"conveyor.yaml": "version: 1\n"}
	for a := range 300 {
		files[fmt.Sprintf("apps/%04d/notes.txt", a)] = noise(a, 32)
	}
	for _, tc := range []struct {
		name    string
		cache   *ObjectCache
		smaller bool
	}{
		{name: "cached", cache: NewObjectCache(), smaller: true},
		{name: "uncached", smaller: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			root := t.TempDir()
			newBareRepo(t, root, "gitops.git", files)
			base, fetched := countingServer(t, root)
			url := base + "/gitops.git"
			if _, _, err := ReadFileCached(ctx, tc.cache, url, "main", "conveyor.yaml", nil); err != nil {
				t.Fatal(err)
			}
			first := fetched.Swap(0)
			other := pushCommit(t, url, "main", map[string]string{"conveyor.yaml": "version: 1\n# changed\n"})
			fetched.Store(0)
			data, commit, err := ReadFileCached(ctx, tc.cache, url, "main", "conveyor.yaml", nil)
			if err != nil {
				t.Fatal(err)
			}
			second := fetched.Load()
			if string(data) != "version: 1\n# changed\n" || commit != other {
				t.Errorf("second read = %q at %s, want the change at %s", data, commit, other)
			}
			if got := second*10 < first; got != tc.smaller {
				t.Errorf("second fetch %d bytes, first %d: under a tenth = %v, want %v", second, first, got, tc.smaller)
			}
		})
	}
}

// TestLandMergeWithObjectCacheFetchesOnlyWhatChanged merges a proposal
// the way the local forge does, after the proposal filled the cache and
// another writer moved main: the merge fetches those few objects, not the
// tree, and the merge commit on the server has both parents and exactly
// the proposal's change.
func TestLandMergeWithObjectCacheFetchesOnlyWhatChanged(t *testing.T) {
	files := map[string]string{}
	for a := range 300 {
		files[fmt.Sprintf("apps/%04d/kustomization.yaml", a)] = kustomization(digest(a))
		files[fmt.Sprintf("apps/%04d/notes.txt", a)] = noise(a, 32)
	}
	for _, tc := range []struct {
		name    string
		opts    []Option
		smaller bool
	}{
		{name: "cached", opts: []Option{WithObjectCache(NewObjectCache())}, smaller: true},
		{name: "uncached", smaller: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			root := t.TempDir()
			dir := newBareRepo(t, root, "gitops.git", files)
			base, fetched := countingServer(t, root)
			url := base + "/gitops.git"
			r, err := New(url, "main", nil, testAuthor, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			when := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			const branch = "conveyor/dev/app-0001"
			prop, err := r.Propose(ctx, branch, setAppDigest(1, digest(1001)), "promote 1", when)
			if err != nil {
				t.Fatalf("Propose: %v", err)
			}
			first := fetched.Swap(0)
			other := pushCommit(t, url, "main", map[string]string{"apps/0002/notes.txt": noise(1002, 2)})
			fetched.Store(0)
			m, err := r.LandMerge(ctx, branch, setAppDigest(1, digest(1001)), "Merge #1", when)
			if err != nil {
				t.Fatalf("LandMerge: %v", err)
			}
			second := fetched.Load()
			if got := second*10 < first; got != tc.smaller {
				t.Errorf("merge fetched %d bytes, the proposal %d: under a tenth = %v, want %v", second, first, got, tc.smaller)
			}
			if got, want := runGit(t, dir, "rev-parse", "main"), m.SHA; got != want {
				t.Fatalf("main is at %s, want the merge %s", got, want)
			}
			if got, want := runGit(t, dir, "show", "-s", "--format=%P", m.SHA), other+" "+prop.SHA; got != want {
				t.Errorf("merge parents %q, want %q (the moved main, then the proposal)", got, want)
			}
			if got := runGit(t, dir, "diff-tree", "-r", "--name-only", "--no-commit-id", other, m.SHA); got != "apps/0001/kustomization.yaml" {
				t.Errorf("merge changes %q, want apps/0001/kustomization.yaml only", got)
			}
			runGit(t, dir, "fsck", "--strict", "--no-progress")
		})
	}
}

// TestViewTipSeesOneCommit lists a remote branch's directories and reads
// its file from one snapshot, through an object cache and without one, and
// after another writer's commit sees that commit's tree.
func TestViewTipSeesOneCommit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cache *ObjectCache
	}{{"cached", NewObjectCache()}, {"uncached", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			root := t.TempDir()
			newBareRepo(t, root, "gitops.git", map[string]string{"conveyor.yaml": "version: 1\n", "apps/web/k.yaml": "a\n"})
			base, _ := countingServer(t, root)
			url := base + "/gitops.git"
			view := func() (string, []string, string) {
				t.Helper()
				var apps []string
				var data []byte
				commit, err := ViewTip(ctx, tc.cache, url, "main", nil, func(s *Snapshot) error {
					entries, err := fs.ReadDir(s, "apps")
					if err != nil {
						return err
					}
					for _, e := range entries {
						apps = append(apps, e.Name())
					}
					data, err = fs.ReadFile(s, "conveyor.yaml")
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				return commit, apps, string(data)
			}
			if _, apps, data := view(); !slices.Equal(apps, []string{"web"}) || data != "version: 1\n" {
				t.Errorf("first view: apps %v, file %q", apps, data)
			}
			other := pushCommit(t, url, "main", map[string]string{"apps/api/k.yaml": "b\n", "conveyor.yaml": "version: 1\n# api\n"})
			commit, apps, data := view()
			if commit != other || !slices.Equal(apps, []string{"api", "web"}) || data != "version: 1\n# api\n" {
				t.Errorf("after a commit: %s apps %v file %q, want %s with api", commit, apps, data, other)
			}
		})
	}
}

// TestObjectCacheFetchesABranchBehindItsShallowTip fetches, through a cache
// that first fetched main shallowly, a proposal branch that main has since
// merged by fast-forward and that nobody deleted yet: the branch's commit is
// an ancestor of the cached tip but not in the cache. A fetch that tells
// the server it has main's tip without saying the tip is shallow is sent
// nothing, as if the cache held main's whole history; the commit must
// still be read, on the first try and on every later one.
func TestObjectCacheFetchesABranchBehindItsShallowTip(t *testing.T) {
	ctx := testContext(t)
	root := t.TempDir()
	dir := newBareRepo(t, root, "gitops.git", map[string]string{"conveyor.yaml": "version: 1\n", "apps/web/k.yaml": "a\n"})
	base, _ := countingServer(t, root)
	url := base + "/gitops.git"
	proposal := pushCommit(t, url, "main", map[string]string{"apps/web/k.yaml": "b\n"})
	runGit(t, dir, "branch", "conveyor/prod/web", proposal)
	merged := pushCommit(t, url, "main", map[string]string{"apps/web/k.yaml": "c\n"})

	cache := NewObjectCache()
	if _, commit, err := ReadFileCached(ctx, cache, url, "main", "conveyor.yaml", nil); err != nil || commit != merged {
		t.Fatalf("reading main: %s, %v; want %s", commit, err, merged)
	}
	for try := range 2 {
		data, commit, err := ReadFileCached(ctx, cache, url, "conveyor/prod/web", "apps/web/k.yaml", nil)
		if err != nil {
			t.Fatalf("read %d of the merged branch: %v", try+1, err)
		}
		if commit != proposal || string(data) != "b\n" {
			t.Errorf("read %d of the merged branch: %q at %s, want %q at %s", try+1, data, commit, "b\n", proposal)
		}
	}
	// The cache still fetches only what changed afterwards.
	next := pushCommit(t, url, "main", map[string]string{"apps/web/k.yaml": "d\n"})
	if data, commit, err := ReadFileCached(ctx, cache, url, "main", "apps/web/k.yaml", nil); err != nil || commit != next || string(data) != "d\n" {
		t.Errorf("reading main after: %q at %s, %v; want %q at %s", data, commit, err, "d\n", next)
	}
}
