package gitops

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

func TestDirectGitDir(t *testing.T) {
	root := t.TempDir()
	bare := func(t *testing.T) string {
		return newBareRepo(t, t.TempDir(), "gitops.git", seedFiles)
	}
	cases := []struct {
		name string
		// setup returns the directory pushed to and the git directory
		// expected ("" when receive-pack must run).
		setup func(t *testing.T) (dir, want string)
	}{
		{"bare, defaults (hook samples do not count)", func(t *testing.T) (string, string) {
			d := bare(t)
			return d, d
		}},
		{"bare with a pre-receive hook", func(t *testing.T) (string, string) {
			d := bare(t)
			writeFiles(t, d, map[string]string{"hooks/pre-receive": "#!/bin/sh\n"})
			return d, ""
		}},
		{"bare with a post-receive hook", func(t *testing.T) (string, string) {
			d := bare(t)
			writeFiles(t, d, map[string]string{"hooks/post-receive": "#!/bin/sh\n"})
			return d, ""
		}},
		{"receive.denyNonFastForwards", func(t *testing.T) (string, string) {
			d := bare(t)
			runGit(t, d, "config", "receive.denyNonFastForwards", "true")
			return d, ""
		}},
		{"receive.denyCurrentBranch (the checked-out branch only)", func(t *testing.T) (string, string) {
			d := filepath.Join(t.TempDir(), "work")
			runGit(t, root, "init", "-q", "-b", "main", d)
			runGit(t, d, "config", "receive.denyCurrentBranch", "updateInstead")
			return d, filepath.Join(d, ".git")
		}},
		{"transfer.fsckObjects", func(t *testing.T) (string, string) {
			d := bare(t)
			runGit(t, d, "config", "transfer.fsckObjects", "true")
			return d, ""
		}},
		{"core.hooksPath", func(t *testing.T) (string, string) {
			d := bare(t)
			runGit(t, d, "config", "core.hooksPath", "/elsewhere")
			return d, ""
		}},
		{"an include", func(t *testing.T) (string, string) {
			d := bare(t)
			runGit(t, d, "config", "include.path", "/elsewhere/config")
			return d, ""
		}},
		{"non-bare, another branch checked out", func(t *testing.T) (string, string) {
			d := filepath.Join(t.TempDir(), "work")
			runGit(t, root, "init", "-q", "-b", "main", d)
			return d, filepath.Join(d, ".git")
		}},
		{"non-bare, the pushed branch checked out", func(t *testing.T) (string, string) {
			d := filepath.Join(t.TempDir(), "work")
			runGit(t, root, "init", "-q", "-b", "conveyor/dev/web", d)
			return d, ""
		}},
		{"bare, the pushed branch checked out in a linked work tree", func(t *testing.T) (string, string) {
			d := bare(t)
			runGit(t, d, "branch", "conveyor/dev/web", "main")
			runGit(t, d, "worktree", "add", "-q", filepath.Join(t.TempDir(), "wt"), "conveyor/dev/web")
			return d, ""
		}},
		{"a linked work tree (.git is a file)", func(t *testing.T) (string, string) {
			d := t.TempDir()
			writeFiles(t, d, map[string]string{".git": "gitdir: /elsewhere\n"})
			return d, ""
		}},
		{"not a repository", func(t *testing.T) (string, string) {
			return t.TempDir(), ""
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, want := tc.setup(t)
			if got := directGitDir(dir, "conveyor/dev/web"); got != want {
				t.Errorf("directGitDir = %q, want %q", got, want)
			}
		})
	}
}

// TestProposeLocalStoresAsReceivePackWould pushes through the direct path
// and checks the repository as git sees it: the branch is there, fsck finds
// every object connected, and the few objects are loose, as receive-pack
// leaves a push under its unpack limit.
func TestProposeLocalStoresAsReceivePackWould(t *testing.T) {
	ctx := testContext(t)
	dir := newBareRepo(t, t.TempDir(), "gitops.git", seedFiles)
	if directGitDir(dir, "conveyor/dev/web") == "" {
		t.Fatal("the test repository does not take the direct path")
	}
	before := looseObjects(t, dir)
	r := &Repo{URL: dir, Base: "main", Author: testAuthor}
	c, err := r.Propose(ctx, "conveyor/dev/web", setDigest("dev", digest(7)), "promote", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("Propose: %v", err)
	}
	if got := runGit(t, dir, "rev-parse", "conveyor/dev/web"); got != c.SHA {
		t.Fatalf("branch at %s, want %s", got, c.SHA)
	}
	runGit(t, dir, "fsck", "--strict", "--no-dangling", "--connectivity-only")
	if got := runGit(t, dir, "show", c.SHA+":envs/dev/kustomization.yaml"); !strings.Contains(got, digest(7)) {
		t.Errorf("proposed file lacks the digest:\n%s", got)
	}
	// commit, root tree, envs/, envs/dev/ and the blob.
	if got := looseObjects(t, dir) - before; got != 5 {
		t.Errorf("%d new loose objects, want the proposal's 5", got)
	}
	if got := runGit(t, dir, "reflog", "show", "--format=%gs", "conveyor/dev/web"); got != "" && !strings.Contains(got, "conveyor: push") {
		t.Errorf("reflog = %q", got)
	}
}

// TestProposeLocalKeepsReceivePackRules: where receive-pack has work of its
// own, the push goes through it: its hook runs, its refusal stands.
func TestProposeLocalKeepsReceivePackRules(t *testing.T) {
	ctx := testContext(t)
	when := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

	dir := newBareRepo(t, t.TempDir(), "gitops.git", seedFiles)
	marker := filepath.Join(t.TempDir(), "hook-ran")
	writeFiles(t, dir, map[string]string{"hooks/post-receive": "#!/bin/sh\ncat > " + marker + "\n"})
	if err := os.Chmod(filepath.Join(dir, "hooks", "post-receive"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Repo{URL: dir, Base: "main", Author: testAuthor}
	c, err := r.Propose(ctx, "conveyor/dev/web", setDigest("dev", digest(1)), "promote", when)
	if err != nil {
		t.Fatalf("Propose: %v", err)
	}
	if got, err := os.ReadFile(marker); err != nil || !strings.Contains(string(got), c.SHA) {
		t.Errorf("post-receive saw %q (%v), want the update to %s", got, err, c.SHA)
	}

	dir = newBareRepo(t, t.TempDir(), "gitops.git", seedFiles)
	runGit(t, dir, "config", "receive.denyNonFastForwards", "true")
	r = &Repo{URL: dir, Base: "main", Author: testAuthor}
	first, err := r.Propose(ctx, "conveyor/dev/web", setDigest("dev", digest(1)), "promote", when)
	if err != nil {
		t.Fatalf("Propose: %v", err)
	}
	// Replacing a proposal is a forced update, which this repository denies.
	if _, err := r.Propose(ctx, "conveyor/dev/web", setDigest("dev", digest(2)), "promote", when); err == nil {
		t.Fatal("a forced update went through receive.denyNonFastForwards")
	}
	if got := runGit(t, dir, "rev-parse", "conveyor/dev/web"); got != first.SHA {
		t.Errorf("branch moved to %s despite the refusal", got)
	}
}

// TestSendLocalRefusesBrokenLinks sends a commit whose parent the
// repository lacks, below and above the unpack limit: git refuses it, the
// branch is not created and no object is left behind.
func TestSendLocalRefusesBrokenLinks(t *testing.T) {
	for _, blobs := range []int{1, unpackLimit} {
		t.Run(strconv.Itoa(blobs)+" blobs", func(t *testing.T) {
			ctx := testContext(t)
			dir := newBareRepo(t, t.TempDir(), "gitops.git", seedFiles)
			missing := plumbing.NewHash(strings.Repeat("ab", 20))
			added, c := orphanCommit(t, blobs, missing)
			before := looseObjects(t, dir)
			packs := packFiles(t, dir)
			ref := plumbing.NewBranchReferenceName("conveyor/dev/web")
			err := sendLocal(ctx, dir, added, ref, plumbing.ZeroHash, c)
			if err == nil {
				t.Fatal("sendLocal accepted a commit whose parent the repository lacks")
			}
			if !strings.Contains(err.Error(), "--strict") {
				t.Errorf("error = %v, want it to name the strict check", err)
			}
			if out, gitErr := gitAt(ctx, dir, nil, nil, "rev-parse", "--verify", "-q", ref.String()); gitErr == nil {
				t.Errorf("branch created at %s", out)
			}
			if got := looseObjects(t, dir); got != before {
				t.Errorf("%d loose objects left behind", got-before)
			}
			if got := packFiles(t, dir); got != packs {
				t.Errorf("%d files in objects/pack, want %d", got, packs)
			}
			if q, _ := filepath.Glob(filepath.Join(dir, "objects", "tmp_objdir-*")); len(q) > 0 {
				t.Errorf("quarantine left behind: %v", q)
			}
		})
	}
}

// TestSendLocalLeaseLost: the ref moves only from the value the sender saw.
func TestSendLocalLeaseLost(t *testing.T) {
	ctx := testContext(t)
	dir := newBareRepo(t, t.TempDir(), "gitops.git", seedFiles)
	main := plumbing.NewHash(runGit(t, dir, "rev-parse", "main"))
	added, c := orphanCommit(t, 1, main)
	ref := plumbing.NewBranchReferenceName("main")
	stale := plumbing.NewHash(strings.Repeat("cd", 20))
	err := sendLocal(ctx, dir, added, ref, stale, c)
	if err == nil {
		t.Fatal("sendLocal moved main from a value it no longer holds")
	}
	if got := runGit(t, dir, "rev-parse", "main"); got != main.String() {
		t.Errorf("main moved to %s", got)
	}
	if err := sendLocal(ctx, dir, added, ref, main, c); err != nil {
		t.Fatalf("sendLocal with the right lease: %v", err)
	}
	if got := runGit(t, dir, "rev-parse", "main"); got != c.String() {
		t.Errorf("main at %s, want %s", got, c)
	}
	runGit(t, dir, "fsck", "--strict", "--no-dangling", "--connectivity-only")
}

// orphanCommit writes n blobs, a tree of them and a commit on parent into
// an overlay of an empty store.
func orphanCommit(t *testing.T, n int, parent plumbing.Hash) (*overlay, plumbing.Hash) {
	t.Helper()
	o := newOverlay(memory.NewStorage())
	tree := &object.Tree{}
	for i := range n {
		b := o.NewEncodedObject()
		b.SetType(plumbing.BlobObject)
		w, _ := b.Writer()
		fmt.Fprintf(w, "blob %d\n", i)
		w.Close()
		h, err := o.SetEncodedObject(b)
		if err != nil {
			t.Fatal(err)
		}
		tree.Entries = append(tree.Entries, object.TreeEntry{Name: fmt.Sprintf("f%04d", i), Mode: filemode.Regular, Hash: h})
	}
	to := o.NewEncodedObject()
	if err := tree.Encode(to); err != nil {
		t.Fatal(err)
	}
	th, _ := o.SetEncodedObject(to)
	sig := object.Signature{Name: "t", Email: "t@t", When: time.Unix(0, 0).UTC()}
	co := o.NewEncodedObject()
	if err := (&object.Commit{Author: sig, Committer: sig, Message: "m", TreeHash: th, ParentHashes: []plumbing.Hash{parent}}).Encode(co); err != nil {
		t.Fatal(err)
	}
	ch, _ := o.SetEncodedObject(co)
	return o, ch
}

func looseObjects(t *testing.T, gitDir string) int {
	t.Helper()
	for _, line := range strings.Split(runGit(t, gitDir, "count-objects", "-v"), "\n") {
		if v, ok := strings.CutPrefix(line, "count: "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatal("git count-objects printed no count")
	return 0
}

// packFiles counts the files in objects/pack.
func packFiles(t *testing.T, gitDir string) int {
	t.Helper()
	// Every file counts: a half-written pack is a tmp_pack_* file.
	m, _ := filepath.Glob(filepath.Join(gitDir, "objects", "pack", "*"))
	return len(m)
}

// TestSendLocalPacksLargePushes: from unpackLimit objects on, the push
// arrives as a pack with its index, as receive-pack stores it.
func TestSendLocalPacksLargePushes(t *testing.T) {
	ctx := testContext(t)
	dir := newBareRepo(t, t.TempDir(), "gitops.git", seedFiles)
	main := plumbing.NewHash(runGit(t, dir, "rev-parse", "main"))
	added, c := orphanCommit(t, unpackLimit, main)
	loose, packs := looseObjects(t, dir), packFiles(t, dir)
	if err := sendLocal(ctx, dir, added, plumbing.NewBranchReferenceName("big"), plumbing.ZeroHash, c); err != nil {
		t.Fatalf("sendLocal: %v", err)
	}
	if got := looseObjects(t, dir); got != loose {
		t.Errorf("%d new loose objects, want none", got-loose)
	}
	if got := packFiles(t, dir) - packs; got < 2 {
		t.Errorf("%d new files in objects/pack, want a pack and its index", got)
	}
	if got := runGit(t, dir, "rev-list", "--objects", "--count", "big", "^main"); got != strconv.Itoa(unpackLimit+2) {
		t.Errorf("big holds %s objects of its own, want %d", got, unpackLimit+2)
	}
	runGit(t, dir, "fsck", "--strict", "--no-dangling", "--connectivity-only")
}

func TestObjectHeader(t *testing.T) {
	for _, tc := range []struct {
		typ  plumbing.ObjectType
		size int64
		want []byte
	}{
		{plumbing.BlobObject, 0, []byte{0x30}},
		{plumbing.BlobObject, 15, []byte{0x3f}},
		{plumbing.TreeObject, 16, []byte{0xa0, 0x01}},
		{plumbing.CommitObject, 2047, []byte{0x9f, 0x7f}},
		{plumbing.CommitObject, 2048, []byte{0x90, 0x80, 0x01}},
		{plumbing.TreeObject, 400_000, []byte{0xa0, 0xa8, 0xc3, 0x01}},
	} {
		if got := objectHeader(tc.typ, tc.size); string(got) != string(tc.want) {
			t.Errorf("objectHeader(%v, %d) = % x, want % x", tc.typ, tc.size, got, tc.want)
		}
	}
}

// TestSendLocalStoresLooseObjectsUncompressed: below the unpack limit the
// objects are stored loose without compression, which cost a 10,000-app
// promotion 7 ms of git's time, unless the repository sets a level, which
// then holds. Either way git reads them back and fsck accepts them.
func TestSendLocalStoresLooseObjectsUncompressed(t *testing.T) {
	const size = 64 << 10
	content := bytes.Repeat([]byte("conveyor "), size/9)
	for _, tc := range []struct {
		name       string
		config     []string
		compressed bool
	}{
		{name: "repository default", compressed: false},
		{name: "core.looseCompression set", config: []string{"core.looseCompression", "9"}, compressed: true},
		{name: "core.compression set", config: []string{"core.compression", "1"}, compressed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			dir := newBareRepo(t, t.TempDir(), "gitops.git", seedFiles)
			if tc.config != nil {
				runGit(t, dir, append([]string{"config"}, tc.config...)...)
			}
			main := plumbing.NewHash(runGit(t, dir, "rev-parse", "main"))
			o := newOverlay(memory.NewStorage())
			b := o.NewEncodedObject()
			b.SetType(plumbing.BlobObject)
			w, _ := b.Writer()
			w.Write(content)
			w.Close()
			blob, err := o.SetEncodedObject(b)
			if err != nil {
				t.Fatal(err)
			}
			to := o.NewEncodedObject()
			tree := &object.Tree{Entries: []object.TreeEntry{{Name: "big.txt", Mode: filemode.Regular, Hash: blob}}}
			if err := tree.Encode(to); err != nil {
				t.Fatal(err)
			}
			th, _ := o.SetEncodedObject(to)
			sig := object.Signature{Name: "t", Email: "t@t", When: time.Unix(0, 0).UTC()}
			co := o.NewEncodedObject()
			if err := (&object.Commit{Author: sig, Committer: sig, Message: "m", TreeHash: th, ParentHashes: []plumbing.Hash{main}}).Encode(co); err != nil {
				t.Fatal(err)
			}
			c, _ := o.SetEncodedObject(co)
			if err := sendLocal(ctx, dir, o, plumbing.NewBranchReferenceName("big"), plumbing.ZeroHash, c); err != nil {
				t.Fatalf("sendLocal: %v", err)
			}
			fi, err := os.Stat(filepath.Join(dir, "objects", blob.String()[:2], blob.String()[2:]))
			if err != nil {
				t.Fatalf("the blob is not stored loose: %v", err)
			}
			if got := fi.Size() < int64(len(content)); got != tc.compressed {
				t.Errorf("loose blob of %d bytes takes %d on disk: compressed %v, want %v", len(content), fi.Size(), got, tc.compressed)
			}
			if got := runGit(t, dir, "cat-file", "blob", "big:big.txt"); got != strings.TrimSpace(string(content)) {
				t.Errorf("git reads back %d bytes, want the %d sent", len(got), len(content))
			}
			runGit(t, dir, "fsck", "--strict", "--no-dangling")
		})
	}
}
