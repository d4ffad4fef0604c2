package gitops

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"

	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// TestApplyChanges checks the rebuilt tree against the tree the git CLI
// writes for the same changes: same hash means byte-identical, canonically
// ordered trees.
func TestApplyChanges(t *testing.T) {
	ctx := testContext(t)
	_, url := transports[0].setup(t)
	r := &Repo{URL: url, Base: "main"}
	clean := t.TempDir()
	runGit(t, clean, "clone", "-q", url, ".")

	for _, tc := range []struct {
		name    string
		changes map[string][]byte
		files   []string
		invalid bool
	}{
		{name: "modify", changes: map[string][]byte{"envs/dev/kustomization.yaml": []byte(kustomization(digest(1)))},
			files: []string{"envs/dev/kustomization.yaml"}},
		{name: "add in new directories", changes: map[string][]byte{"envs/staging/web/kustomization.yaml": []byte("x\n")},
			files: []string{"envs/staging/web/kustomization.yaml"}},
		{name: "delete empties a directory", changes: map[string][]byte{"envs/prod/kustomization.yaml": nil},
			files: []string{"envs/prod/kustomization.yaml"}},
		{name: "several", changes: map[string][]byte{"base/deployment.yaml": nil, "README.md": []byte("new\n"), "envs/dev/extra.yaml": []byte("y\n")},
			files: []string{"README.md", "base/deployment.yaml", "envs/dev/extra.yaml"}},
		{name: "files sort before same-named directories", changes: map[string][]byte{"envs.md": []byte("a\n"), "base-x/a": []byte("b\n"), "base.d/b": []byte("c\n")},
			files: []string{"base-x/a", "base.d/b", "envs.md"}},
		{name: "same content", changes: map[string][]byte{"README.md": []byte(seedFiles["README.md"])}},
		{name: "delete absent", changes: map[string][]byte{"nope/x.yaml": nil}},
		{name: "no changes", changes: nil},
		{name: "absolute path", changes: map[string][]byte{"/etc/passwd": []byte("x")}, invalid: true},
		{name: "dot-dot", changes: map[string][]byte{"envs/../x": []byte("x")}, invalid: true},
		{name: "dot-git", changes: map[string][]byte{"a/.GIT/config": []byte("x")}, invalid: true},
		{name: "file over directory", changes: map[string][]byte{"envs": []byte("x")}, invalid: true},
		{name: "directory over file", changes: map[string][]byte{"README.md/x": []byte("x")}, invalid: true},
		{name: "file and directory", changes: map[string][]byte{"a": []byte("x"), "a/b": []byte("y")}, invalid: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree, files, err := applyOnMain(ctx, t, r, tc.changes)
			if tc.invalid {
				if err == nil || !retry.IsPermanent(err) {
					t.Fatalf("applyChanges = %v, want a permanent error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("applyChanges: %v", err)
			}
			if diff := cmp.Diff(tc.files, files); diff != "" {
				t.Errorf("changed files (-want +got):\n%s", diff)
			}

			if want := gitWriteTree(t, clean, tc.changes); tree.String() != want {
				t.Errorf("tree = %s, git writes %s", tree, want)
			}
		})
	}
}

// applyOnMain applies changes to the tree at r's main, as a promotion does.
func applyOnMain(ctx context.Context, t *testing.T, r *Repo, changes map[string][]byte) (plumbing.Hash, []string, error) {
	t.Helper()
	s, err := r.newSession()
	if err != nil {
		t.Fatal(err)
	}
	commits, err := r.fetch(ctx, s, "main")
	if err != nil {
		t.Fatal(err)
	}
	root, err := commits[0].Tree()
	if err != nil {
		t.Fatal(err)
	}
	return applyChanges(s.st, root, changes)
}

// gitWriteTree is the tree the git CLI writes for changes (nil deletes)
// on a clone of clean.
func gitWriteTree(t *testing.T, clean string, changes map[string][]byte) string {
	t.Helper()
	work := t.TempDir()
	runGit(t, work, "clone", "-q", "--shared", clean, ".")
	for p, data := range changes {
		if data == nil {
			os.Remove(filepath.Join(work, filepath.FromSlash(p)))
			continue
		}
		writeFiles(t, work, map[string]string{p: string(data)})
	}
	runGit(t, work, "add", "-A")
	return runGit(t, work, "write-tree")
}

// TestByGitOrder: tree entries sort as git sorts them, by name with a
// directory's compared as if it ended in a slash.
func TestByGitOrder(t *testing.T) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	names := []string{"a", "a.b", "a-b", "a0", "ab", "b", "a.yaml", "apps", "apps-old", "apps.d", "z"}
	var entries []object.TreeEntry
	for _, n := range names {
		entries = append(entries, object.TreeEntry{Name: n, Mode: filemode.Regular}, object.TreeEntry{Name: n + "x", Mode: filemode.Dir})
		entries = append(entries, object.TreeEntry{Name: n + "/", Mode: filemode.Regular}) // never in git; checks the '/' byte
	}
	entries = append(entries, object.TreeEntry{Name: "apps", Mode: filemode.Dir}, object.TreeEntry{Name: "a", Mode: filemode.Dir})
	for _, a := range entries {
		for _, b := range entries {
			if got, want := byGitOrder(a, b), strings.Compare(key(a), key(b)); got != want {
				t.Errorf("byGitOrder(%q %v, %q %v) = %d, want %d", a.Name, a.Mode, b.Name, b.Mode, got, want)
			}
		}
	}
}

// TestApplyChangesRandom applies seeded random change sets, a few or many
// names per directory at once, with names that sort around one another
// ("a", "a.b", "a-b", "a/b"), and checks each tree against git's.
func TestApplyChangesRandom(t *testing.T) {
	ctx := testContext(t)
	seed := time.Now().UnixNano()
	if s := os.Getenv("CONVEYOR_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d (CONVEYOR_SEED reproduces it)", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	names := []string{"a", "a.b", "a-b", "a0", "b", "ab", "a_b", "z"}
	randPath := func() string {
		depth := 1 + rng.IntN(3)
		parts := make([]string, depth)
		for i := range parts {
			parts[i] = names[rng.IntN(len(names))]
		}
		return strings.Join(parts, "/")
	}
	// A base of up to 150 files; a path that is a prefix of another is
	// skipped.
	files := map[string]string{}
	for range 1000 {
		p := randPath()
		if conflicts(files, p) {
			continue
		}
		files[p] = fmt.Sprintf("content %d\n", len(files))
		if len(files) == 150 {
			break
		}
	}
	dir := newBareRepo(t, t.TempDir(), "random.git", files)
	r := &Repo{URL: dir, Base: "main"}
	clean := t.TempDir()
	runGit(t, clean, "clone", "-q", dir, ".")
	for round := range 12 {
		changes := map[string][]byte{}
		n := 1 + rng.IntN(3)
		if round%2 == 1 {
			n = 10 + rng.IntN(30) // past entryFinder's scan
		}
		existing := slices.Sorted(maps.Keys(files))
		for range 10 * n {
			if len(changes) == n {
				break
			}
			switch rng.IntN(3) {
			case 0: // modify
				changes[existing[rng.IntN(len(existing))]] = []byte(fmt.Sprintf("round %d\n", round))
			case 1: // delete
				changes[existing[rng.IntN(len(existing))]] = nil
			default: // add
				if p := randPath(); !conflicts(files, p) && !conflictsChanges(changes, p) {
					changes[p] = []byte("new\n")
				}
			}
		}
		tree, _, err := applyOnMain(ctx, t, r, changes)
		if err != nil {
			t.Fatalf("round %d: applyChanges: %v", round, err)
		}
		if want := gitWriteTree(t, clean, changes); tree.String() != want {
			t.Fatalf("round %d (%d changes): tree = %s, git writes %s", round, len(changes), tree, want)
		}
	}
}

// conflicts reports whether p is a file or directory of files in another
// form: p is a prefix directory of a file, or a file is a directory of p.
func conflicts(files map[string]string, p string) bool {
	for f := range files {
		if f == p {
			return false
		}
		if strings.HasPrefix(f, p+"/") || strings.HasPrefix(p, f+"/") {
			return true
		}
	}
	return false
}

func conflictsChanges(changes map[string][]byte, p string) bool {
	for f := range changes {
		if f == p || strings.HasPrefix(f, p+"/") || strings.HasPrefix(p, f+"/") {
			return true
		}
	}
	return false
}

// TestEncodeTreeAsGoGit: the tree encoding promotions write is byte for byte
// the one go-git's object.Tree.Encode writes, for every file mode and for
// names of every length, and a name with a NUL byte is refused as there.
func TestEncodeTreeAsGoGit(t *testing.T) {
	modes := []filemode.FileMode{filemode.Dir, filemode.Regular, filemode.Executable, filemode.Symlink, filemode.Submodule}
	var entries []object.TreeEntry
	for i := range 300 {
		name := strings.Repeat("x", i%40) + strconv.Itoa(i)
		entries = append(entries, object.TreeEntry{Name: name, Mode: modes[i%len(modes)], Hash: plumbing.ComputeHash(plumbing.BlobObject, []byte(name))})
	}
	slices.SortFunc(entries, byGitOrder)
	for _, n := range []int{0, 1, 2, len(entries)} {
		got, err := encodeTree(entries[:n])
		if err != nil {
			t.Fatal(err)
		}
		want := &plumbing.MemoryObject{}
		if err := (&object.Tree{Entries: entries[:n]}).Encode(want); err != nil {
			t.Fatal(err)
		}
		r, _ := want.Reader()
		wantBytes, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(wantBytes) {
			t.Errorf("%d entries: encoding differs from go-git's\n got %q\nwant %q", n, got, wantBytes)
		}
	}
	bad := []object.TreeEntry{{Name: "a\x00b", Mode: filemode.Regular}}
	if _, err := encodeTree(bad); err == nil || !strings.Contains(err.Error(), "malformed file name") {
		t.Errorf("a NUL in a name: err %v, want malformed file name", err)
	}
}

// BenchmarkEncodeTree encodes a 10,000-entry directory, the apps/ tree a
// promotion in a 10,000-app repository rewrites.
func BenchmarkEncodeTree(b *testing.B) {
	entries := make([]object.TreeEntry, 10000)
	for i := range entries {
		name := fmt.Sprintf("app-%05d", i)
		entries[i] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: plumbing.ComputeHash(plumbing.TreeObject, []byte(name))}
	}
	b.Run("conveyor", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeTree(entries); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-git", func(b *testing.B) {
		for b.Loop() {
			if err := (&object.Tree{Entries: entries}).Encode(&plumbing.MemoryObject{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
