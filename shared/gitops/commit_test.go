package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
			tree, files, err := applyChanges(s.st, root, tc.changes)
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

			work := t.TempDir()
			runGit(t, work, "clone", "-q", "--shared", clean, ".")
			for p, data := range tc.changes {
				full := filepath.Join(work, filepath.FromSlash(p))
				if data == nil {
					os.Remove(full)
					continue
				}
				writeFiles(t, work, map[string]string{p: string(data)})
			}
			runGit(t, work, "add", "-A")
			if want := runGit(t, work, "write-tree"); tree.String() != want {
				t.Errorf("tree = %s, git writes %s", tree, want)
			}
		})
	}
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
